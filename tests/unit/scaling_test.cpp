// The provisioner's scaling policy (broker/provision/scaling.h): pure
// state, driven here with a time the test moves by hand.
#include "broker/provision/scaling.h"

#include <boost/test/unit_test.hpp>
#include <ostream>

using namespace shoal::broker::provision;
using namespace std::chrono_literals;

namespace shoal::broker::provision {
std::ostream& operator<<(std::ostream& os, const Placement& p) {
  return os << p.text();
}
std::ostream& operator<<(std::ostream& os, const std::optional<Placement>& p) {
  return p ? os << *p : os << "(none)";
}
}  // namespace shoal::broker::provision
namespace std {
inline std::ostream& operator<<(std::ostream& os, const std::nullopt_t&) {
  return os << "(none)";
}
}  // namespace std
namespace shoal::broker::provision {
}  // namespace shoal::broker::provision

namespace {

const Placement kDebug{"debug", ""};
const Placement kGpu{"gpu", ""};
const Placement kAvx{"debug", "avx512"};

ScalingLimits limits(int min, int max, int slots) {
  return {min, max, slots, 60s, kDebug};
}

PilotView pilot(std::string name, PilotView::Phase phase, Placement where = kDebug, size_t busy = 0,
                ScaleClock::time_point idle_since = {}) {
  return {std::move(name), std::move(where), phase, busy, idle_since};
}

// A small cluster: what the policy submits is pending one round, then
// connected; a connected pilot takes `slots` queued jobs.
struct Cluster {
  explicit Cluster(ScalingLimits l) : lim(l) {}
  ScalingLimits lim;
  ScaleClock::time_point now{std::chrono::hours(1)};
  std::vector<PilotView> pilots;
  size_t queued = 0;
  int next = 0;
  size_t most_pending = 0;
  void round() {
    for (auto& p : pilots)
      if (p.phase == PilotView::Phase::pending) p.phase = PilotView::Phase::connected;
    for (auto& p : pilots) {
      size_t take = std::min(queued, static_cast<size_t>(lim.slots) - p.busy);
      p.busy += take;
      queued -= take;
      if (p.busy == 0 && p.idle_since == ScaleClock::time_point{}) p.idle_since = now;
    }
    Decision d = decide(lim, {{kDebug, queued}}, pilots, now);
    for (const auto& name : d.cancel)
      std::erase_if(pilots, [&](const PilotView& p) { return p.name == name; });
    for (const auto& where : d.submit)
      pilots.push_back(pilot("p" + std::to_string(next++), PilotView::Phase::pending, where));
    size_t pending = 0;
    for (const auto& p : pilots) pending += p.phase == PilotView::Phase::pending;
    most_pending = std::max(most_pending, pending);
    now += 1s;
  }
  void finish_all() {
    for (auto& p : pilots)
      if (p.busy) {
        p.busy = 0;
        p.idle_since = now;
      }
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_burst_of_500_jobs_grows_the_pool_to_its_maximum_and_no_further) {
  Cluster c{limits(0, 20, 4)};
  c.queued = 500;
  c.round();
  BOOST_TEST(c.pilots.size() == 20u);  // 500 jobs would need 125 pilots: the maximum holds
  for (int i = 0; i < 5; ++i) c.round();
  BOOST_TEST(c.pilots.size() == 20u);
  BOOST_TEST(c.queued == 500u - 80u);
}

BOOST_AUTO_TEST_CASE(a_small_queue_gets_the_pilots_it_needs_and_no_more) {
  Cluster c{limits(0, 20, 4)};
  c.queued = 9;  // three pilots of 4 slots
  c.round();
  BOOST_TEST(c.pilots.size() == 3u);
  c.round();  // connected; they take the 9 jobs
  BOOST_TEST(c.pilots.size() == 3u);
  BOOST_TEST(c.queued == 0u);
  BOOST_TEST(c.most_pending == 3u);
}

BOOST_AUTO_TEST_CASE(pending_pilots_past_what_the_queue_needs_are_cancelled_newest_first) {
  const auto now = ScaleClock::time_point{} + 1h;
  std::vector<PilotView> pilots = {
      pilot("a", PilotView::Phase::pending), pilot("b", PilotView::Phase::pending),
      pilot("c", PilotView::Phase::pending), pilot("d", PilotView::Phase::starting)};
  // One job left for pilots of 2 slots: one coming pilot is enough.
  Decision d = decide(limits(0, 10, 2), {{kDebug, 1}}, pilots, now);
  BOOST_TEST(d.submit.empty());
  BOOST_TEST((d.cancel == std::vector<std::string>{"c", "b"}));
  // Nothing queued: every pending pilot goes; the starting one has a node.
  d = decide(limits(0, 10, 2), {}, pilots, now);
  BOOST_TEST((d.cancel == std::vector<std::string>{"c", "b", "a"}));
}

BOOST_AUTO_TEST_CASE(an_empty_queue_shrinks_the_pool_to_its_minimum_after_the_idle_time) {
  Cluster c{limits(2, 10, 1)};
  c.queued = 6;
  c.round();
  c.round();
  BOOST_TEST(c.pilots.size() == 6u);
  c.finish_all();
  const auto idle_from = c.now;
  while (c.now < idle_from + 59s) {
    c.round();
    BOOST_TEST(c.pilots.size() == 6u);  // not idle long enough yet
  }
  for (int i = 0; i < 3; ++i) c.round();
  BOOST_TEST(c.pilots.size() == 2u);  // the minimum stays
  for (int i = 0; i < 120; ++i) c.round();
  BOOST_TEST(c.pilots.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_busy_pilot_is_never_cancelled_and_the_longest_idle_goes_first) {
  const auto t0 = ScaleClock::time_point{} + 1h;
  std::vector<PilotView> pilots = {
      pilot("busy", PilotView::Phase::connected, kDebug, 1, t0 - 10min),
      pilot("newer", PilotView::Phase::connected, kDebug, 0, t0 - 2min),
      pilot("older", PilotView::Phase::connected, kDebug, 0, t0 - 5min)};
  Decision d = decide(limits(1, 10, 1), {}, pilots, t0);
  BOOST_TEST((d.cancel == std::vector<std::string>{"older", "newer"}));
  // An idle pilot whose placement has jobs queued (it cannot take them:
  // they wait for something else) stays.
  d = decide(limits(0, 10, 1), {{kDebug, 0}, {kGpu, 3}}, pilots, t0);
  BOOST_TEST(d.cancel.size() == 2u);
  BOOST_TEST(d.submit.size() == 3u);
  for (const auto& p : d.submit) BOOST_TEST(p == kGpu);
}

BOOST_AUTO_TEST_CASE(the_minimum_is_kept_with_nothing_queued) {
  Decision d = decide(limits(2, 10, 1), {}, {}, ScaleClock::time_point{} + 1h);
  BOOST_TEST(d.submit.size() == 2u);
  for (const auto& p : d.submit) BOOST_TEST(p == kDebug);
}

BOOST_AUTO_TEST_CASE(each_placement_gets_pilots_for_its_own_queue_within_one_maximum) {
  const auto now = ScaleClock::time_point{} + 1h;
  std::vector<PilotView> pilots = {pilot("g", PilotView::Phase::pending, kGpu)};
  Decision d = decide(limits(0, 4, 1), {{kGpu, 2}, {kAvx, 5}, {kDebug, 0}}, pilots, now);
  size_t gpu = 0, avx = 0;
  for (const auto& p : d.submit) (p == kGpu ? gpu : avx) += 1;
  BOOST_TEST(d.submit.size() == 3u);  // 4 at most, one exists
  BOOST_TEST(avx == 3u);              // the longer queue first
  BOOST_TEST(gpu == 0u);
}

BOOST_AUTO_TEST_CASE(a_jobs_constraints_name_its_placement) {
  BOOST_TEST(placement_for("", "debug") == std::optional<Placement>(kDebug));
  BOOST_TEST(placement_for("slurm.partition=gpu", "debug") == std::optional<Placement>(kGpu));
  BOOST_TEST(placement_for("slurm.feature==avx512", "debug") == std::optional<Placement>(kAvx));
  BOOST_TEST(placement_for("slurm.partition=gpu,slurm.feature=bigmem", "debug") ==
             std::optional<Placement>(Placement{"gpu", "bigmem"}));
  BOOST_TEST(placement_for("slurm.partition!=gpu", "debug") == std::optional<Placement>(kDebug));
  // Labels no pilot carries, or a choice the policy cannot make: no pilot.
  BOOST_TEST(placement_for("zone=a", "debug") == std::optional<Placement>());
  BOOST_TEST(placement_for("slurm.partition!=debug", "debug") == std::optional<Placement>());
  BOOST_TEST(placement_for("slurm.partition in (gpu,debug)", "debug") == std::optional<Placement>());
  BOOST_TEST(placement_for("slurm.partition=", "debug") == std::optional<Placement>());
  BOOST_TEST(placement_for("(((", "debug") == std::optional<Placement>());
}
