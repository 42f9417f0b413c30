// shoal's jobs as Bacalhau's models (its v1 API, pkg/models): Job, Task,
// Execution, JobHistory, with Bacalhau's field names, casing, enums and
// times (Create/ModifyTime as Unix nanoseconds, history times as RFC 3339).
// Written from the job JSON of docs/protocol.md (what client::Client's
// describe and list return). Used by the REST API (api/) and, for
// `--output json|yaml` in Bacalhau's shape, by the CLI. Pure and
// thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace shoal::bacalhau {

// The Job (one Task, "main"); `job` is shoal's job JSON. The task's Meta
// holds kModuleSha256Meta: the module's SHA-256, by which the spec reader
// (spec.h) submits that very module again.
inline constexpr const char* kModuleSha256Meta = "shoal.module_sha256";
nlohmann::json job_model(const nlohmann::json& job);

// The job's executions as Bacalhau's Execution objects, oldest first.
// `node_id` names the node they ran on (shoal's workers are one node's).
nlohmann::json execution_models(const nlohmann::json& job, const std::string& node_id);

// The job's history as Bacalhau's JobHistory items (SeqNum from 1).
nlohmann::json history_models(const nlohmann::json& job);

// Bacalhau's execution ComputeState number for shoal's execution state
// ("Running" -> 6, "Completed" -> 9, "Failed" -> 10, "Stopped" -> 11).
int compute_state(std::string_view state);

// What `bacalhau job describe --output json` prints (Bacalhau's
// GetJobResponse): {"Job": job_model, "History": {"Items": history_models,
// "NextToken": ""}, "Executions": {"Items": execution_models, "NextToken": ""}}.
nlohmann::json describe_model(const nlohmann::json& job, const std::string& node_id);

// This machine as a Bacalhau node: "n-" and the host name. The node the
// broker's executions are shown on (the REST API's node, and the CLI's).
std::string local_node_id();

// "2026-12-03T13:23:13.965Z" as Unix nanoseconds; 0 for "" or a time it
// cannot read.
int64_t unix_nanos(std::string_view rfc3339);

}  // namespace shoal::bacalhau
