// Choosing a worker for a queued job: among the ready, idle workers whose
// labels satisfy the job's constraints, one on the host with the most idle
// slots, so that jobs spread across hosts (the broker's own pool is the host
// "local"). A job that no connected worker could ever take stays Queued
// with a message that says why, once, without holding up the jobs behind it.
#include <fmt/core.h>

#include "broker/broker_impl.h"
#include "protocol/constraints.h"

namespace shoal::broker {
namespace {

std::string describe_labels(const std::map<std::string, std::string>& labels) {
  std::string out;
  for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=" + v;
  return out.empty() ? "none" : out;
}

}  // namespace

WorkerState* Broker::pick_worker(jobs::Job& job) {
  auto selector = jobs::parse_selector(job.spec.constraints);
  if (!selector) selector = jobs::Selector{};  // checked at submission; never here
  std::map<std::string, int> idle_on_host;
  bool any_match = false;
  for (auto& [name, w] : workers_) {
    if (!jobs::matches(*selector, w.labels)) continue;
    any_match = true;
    if (w.ready && w.exec_id.empty()) ++idle_on_host[w.host];
  }
  if (!any_match) {
    if (unmatched_.insert(job.id).second) {
      std::set<std::string> seen;
      std::string hosts;
      for (const auto& [name, w] : workers_)
        if (seen.insert(w.host).second)
          hosts += (hosts.empty() ? "" : "; ") + w.host + ": " + describe_labels(w.labels);
      job.message = "waiting: no connected worker matches the constraints '" +
                    job.spec.constraints +
                    "' (workers' labels: " + (hosts.empty() ? "no workers" : hosts) + ")";
      event(job, "Scheduling", job.message);
      save(job);
      notify(job);
    }
    return nullptr;
  }
  WorkerState* best = nullptr;
  int best_idle = 0;
  for (auto& [name, w] : workers_) {
    if (!w.ready || !w.exec_id.empty() || !jobs::matches(*selector, w.labels)) continue;
    int idle = idle_on_host[w.host];
    if (idle > best_idle) {
      best = &w;
      best_idle = idle;
    }
  }
  if (best && unmatched_.erase(job.id)) job.message.clear();
  return best;
}

}  // namespace shoal::broker
