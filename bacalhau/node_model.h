// A worker pool (an item of the broker's `nodes` reply, docs/protocol.md)
// as Bacalhau's NodeState (pkg/models/node_state.go): a compute node with
// its labels, its slots as CPU capacity, the runs it holds, and its last
// heartbeat; a Slurm pilot's pool also carries Info.Pilot (shoal's own
// field: Provider, Name, JobID, State, Node, Reason, Partition, Feature,
// Slots, SubmitTime, AgeSeconds; docs/slurm.md). Used by `shoal node list|describe --output json|yaml`. Pure
// and thread-safe.
#pragma once

#include <nlohmann/json.hpp>

namespace shoal::bacalhau {

nlohmann::json node_state_model(const nlohmann::json& pool);

// Bacalhau's ComputeNodeInfo of `slots` worker slots of which `busy` run a
// job: MaxCapacity.CPU the slots, AvailableCapacity.CPU those not busy,
// RunningExecutions the busy ones. The one place a node's capacity is
// written: a pool's NodeState above and the broker's own NodeInfo
// (/api/v1/agent/node) both use it.
nlohmann::json compute_node_info(uint64_t slots, uint64_t busy);

}  // namespace shoal::bacalhau
