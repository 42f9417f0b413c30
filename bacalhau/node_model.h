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

}  // namespace shoal::bacalhau
