// shoal's job JSON (docs/protocol.md) read back from Bacalhau's models as
// bacalhau/model.h writes them: what the `shoal` command reads from the
// REST API (cli/backend.h), so that it renders a job from the API exactly
// as it renders one from the broker's socket. Pure and thread-safe.
//
// What the models carry comes back as it was: ids, name, states, messages,
// exit codes, times (to the millisecond, as the job JSON has them), the
// spec's module, arguments, environment, labels, meta, inputs, outputs,
// limits and import modules; each execution's worker, attempt and the
// bytes a cap dropped (ComputeState.Details); each history event's text
// (a state change from Event.Details.PreviousState and Event.Message).
// What they do not carry is left at its default: the spec's module_sha256,
// constraints and output limits. An execution that did not complete has
// exit code null unless the model says a non-zero one (Bacalhau's
// RunOutput.ExitCode has no "none").
#pragma once

#include <nlohmann/json.hpp>

namespace shoal::bacalhau {

// The job JSON of `job` (a Job model), with `executions` (Execution
// models, oldest first) and `history` (JobHistory items), each may be an
// empty array; `results` is the job's results description as
// GET .../jobs/{id}/results writes it (output_files, outputs_message), or
// null.
nlohmann::json job_from_models(const nlohmann::json& job, const nlohmann::json& executions,
                               const nlohmann::json& history,
                               const nlohmann::json& results = nullptr);

}  // namespace shoal::bacalhau
