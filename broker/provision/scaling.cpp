#include "broker/provision/scaling.h"

#include <algorithm>

#include "protocol/constraints.h"

namespace shoal::broker::provision {

std::string Placement::text() const {
  std::string out = "partition " + (partition.empty() ? std::string("(default)") : partition);
  if (!feature.empty()) out += ", feature " + feature;
  return out;
}

namespace {

size_t needed(size_t queued, int slots) {
  const size_t per = static_cast<size_t>(std::max(1, slots));
  return (queued + per - 1) / per;
}

// Grows each placement towards what its queue needs, most queued first,
// within `room` new pilots.
void grow(const ScalingLimits& limits, const std::map<Placement, size_t>& queued,
          const std::map<Placement, size_t>& coming, size_t& room, Decision& d) {
  std::vector<std::pair<size_t, Placement>> order;
  for (const auto& [p, n] : queued)
    if (n > 0) order.push_back({n, p});
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [n, p] : order) {
    auto c = coming.find(p);
    const size_t have = c == coming.end() ? 0 : c->second;
    const size_t want = needed(n, limits.slots);
    for (size_t i = have; i < want && room > 0; ++i, --room) d.submit.push_back(p);
  }
}

}  // namespace

std::map<std::string, std::string> pilot_labels(const std::string& name,
                                                const Placement& placement) {
  std::map<std::string, std::string> labels = {{"shoal.pilot", name},
                                               {"slurm.partition", placement.partition}};
  if (!placement.feature.empty()) labels["slurm.feature"] = placement.feature;
  return labels;
}

std::optional<Placement> placement_for(const std::string& constraints,
                                       const std::string& default_partition) {
  auto selector = jobs::parse_selector(constraints);
  if (!selector) return std::nullopt;
  Placement p{default_partition, ""};
  for (const auto& r : *selector) {
    if (r.key != "slurm.partition" && r.key != "slurm.feature") continue;
    if (r.op != jobs::Requirement::Op::equals && r.op != jobs::Requirement::Op::in) continue;
    if (r.values.size() != 1 || r.values.front().empty()) return std::nullopt;
    (r.key == "slurm.partition" ? p.partition : p.feature) = r.values.front();
  }
  if (!jobs::matches(*selector, pilot_labels("pilot", p))) return std::nullopt;
  return p;
}

Decision decide(const ScalingLimits& limits, const std::map<Placement, size_t>& queued,
                const std::vector<PilotView>& pilots, ScaleClock::time_point now) {
  Decision d;
  std::map<Placement, size_t> coming, pending;
  for (const auto& p : pilots) {
    if (p.phase != PilotView::Phase::connected) ++coming[p.placement];
    if (p.phase == PilotView::Phase::pending) ++pending[p.placement];
  }
  auto queued_at = [&](const Placement& p) {
    auto q = queued.find(p);
    return q == queued.end() ? size_t{0} : q->second;
  };
  size_t total = pilots.size();
  // Pending pilots past their placement's need are given back, newest first.
  std::map<Placement, size_t> surplus;
  for (const auto& [p, n] : pending) {
    const size_t want = needed(queued_at(p), limits.slots);
    if (n > want) surplus[p] = n - want;
  }
  for (auto it = pilots.rbegin(); it != pilots.rend(); ++it)
    if (it->phase == PilotView::Phase::pending && surplus[it->placement] > 0 &&
        total > static_cast<size_t>(std::max(0, limits.min_pilots))) {
      --surplus[it->placement];
      --coming[it->placement];
      d.cancel.push_back(it->name);
      --total;
    }
  // Idle connected pilots beyond the minimum, idle longest first.
  std::vector<const PilotView*> idle;
  for (const auto& p : pilots)
    if (p.phase == PilotView::Phase::connected && p.busy == 0 &&
        now - p.idle_since >= limits.idle_time && queued_at(p.placement) == 0)
      idle.push_back(&p);
  std::stable_sort(idle.begin(), idle.end(), [](const PilotView* a, const PilotView* b) {
    return a->idle_since < b->idle_since;
  });
  for (const PilotView* p : idle) {
    if (total <= static_cast<size_t>(std::max(0, limits.min_pilots))) break;
    d.cancel.push_back(p->name);
    --total;
  }
  size_t room = total < static_cast<size_t>(limits.max_pilots)
                    ? static_cast<size_t>(limits.max_pilots) - total
                    : 0;
  grow(limits, queued, coming, room, d);
  for (size_t n = total + d.submit.size(); n < static_cast<size_t>(limits.min_pilots) && room > 0;
       ++n, --room)
    d.submit.push_back(limits.default_placement);
  return d;
}

}  // namespace shoal::broker::provision
