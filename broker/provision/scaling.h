// The scaling policy of the provisioner (docs/slurm.md, "The policy"), as
// pure state: given the queued jobs that only a new pilot could take, by
// placement, and the pilots there are, it says which pilots to submit and
// which to cancel. No engine, no clock of its own (`now` is given), no
// threads: unit-tested with a hand-moved time (tests/unit/scaling_test.cpp).
//
//  - Grow: for each placement with queued jobs, enough pilots to hold them
//    (ceil(queued / slots)), less the pilots of that placement already
//    coming (pending in the engine, or running but not yet connected), up
//    to `max` pilots in all; placements with more queued jobs first.
//  - Never more pending pilots than the queue needs: pending pilots past
//    what their placement's queue needs are cancelled.
//  - Shrink: a connected pilot whose workers have all been idle for
//    `idle_time`, with no job queued for its placement, is cancelled,
//    the oldest idle first, while more than `min` pilots are left.
//  - At least `min` pilots (of the default placement) are kept.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "broker/provision/provider.h"

namespace shoal::broker::provision {

using ScaleClock = std::chrono::steady_clock;

struct ScalingLimits {
  int min_pilots = 0;
  int max_pilots = 1;
  int slots = 1;  // worker processes per pilot
  std::chrono::seconds idle_time{60};
  Placement default_placement;
};

struct PilotView {
  std::string name;
  Placement placement;
  enum class Phase { pending, starting, connected } phase = Phase::pending;
  size_t busy = 0;  // workers running a job (connected pilots)
  // Since when every worker of a connected pilot has been idle.
  ScaleClock::time_point idle_since{};
};

struct Decision {
  std::vector<Placement> submit;    // one pilot each
  std::vector<std::string> cancel;  // pilot names
};

// `queued`: per placement, the jobs queued that no connected worker takes.
Decision decide(const ScalingLimits& limits, const std::map<Placement, size_t>& queued,
                const std::vector<PilotView>& pilots, ScaleClock::time_point now);

// The pilot labels a job's constraints need: its placement (partition and
// feature from `slurm.partition=P`, `slurm.feature=F`; the default
// partition when it names none), or nothing when no pilot could take it
// (a malformed selector, or one that needs labels pilots do not carry).
std::optional<Placement> placement_for(const std::string& constraints,
                                       const std::string& default_partition);

// The labels a pilot of `placement` gives its workers, besides the ones it
// learns on its node (slurm.job, slurm.node).
std::map<std::string, std::string> pilot_labels(const std::string& name,
                                                const Placement& placement);

}  // namespace shoal::broker::provision
