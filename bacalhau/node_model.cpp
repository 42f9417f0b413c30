#include "bacalhau/node_model.h"

#include <string>

#include "protocol/job_json.h"

namespace shoal::bacalhau {
namespace {

// Go's zero time for a pool that never sent a heartbeat: what a Bacalhau
// client parses as "never".
std::string heartbeat_time(int64_t ns) {
  return ns == 0 ? "0001-01-01T00:00:00Z" : jobs::format_time(ns);
}

}  // namespace

nlohmann::json compute_node_info(uint64_t slots, uint64_t busy) {
  return {{"ExecutionEngines", {"wasm"}},
          {"Publishers", {"local"}},
          {"StorageSources", {"inline", "urlDownload", "local"}},
          {"MaxCapacity", {{"CPU", slots}}},
          {"AvailableCapacity", {{"CPU", slots > busy ? slots - busy : 0}}},
          {"QueueCapacity", nlohmann::json::object()},
          {"RunningExecutions", busy},
          {"EnqueuedExecutions", 0}};
}

nlohmann::json node_state_model(const nlohmann::json& pool) {
  const bool connected = pool.value("state", "") == "connected";
  nlohmann::json compute =
      compute_node_info(pool.value("slots", uint64_t{0}), pool.value("busy", uint64_t{0}));
  nlohmann::json info = {{"NodeID", pool.value("id", "")},
                         {"NodeType", "Compute"},
                         {"Labels", pool.value("labels", nlohmann::json::object())},
                         {"SupportedProtocols", {"ncl/v1"}},
                         {"ComputeNodeInfo", compute}};
  if (pool.contains("pilot") && pool["pilot"].is_object()) {
    const auto& p = pool["pilot"];
    info["Pilot"] = {
        {"Provider", p.value("provider", "")},   {"Name", p.value("name", "")},
        {"JobID", p.value("job_id", "")},        {"State", p.value("state", "")},
        {"Node", p.value("node", "")},           {"Reason", p.value("reason", "")},
        {"Partition", p.value("partition", "")}, {"Feature", p.value("feature", "")},
        {"Slots", p.value("slots", 0)},          {"AgeSeconds", p.value("age_s", int64_t{0})}};
    if (p.value("submitted_ns", int64_t{0}) > 0)
      info["Pilot"]["SubmitTime"] = jobs::format_time(p.value("submitted_ns", int64_t{0}));
  }
  return {{"Info", info},
          {"Membership", "APPROVED"},
          // Bacalhau's older field beside ConnectionState; its clients read either.
          {"Connection", connected ? "CONNECTED" : "DISCONNECTED"},
          {"ConnectionState",
           {{"Status", connected ? "CONNECTED" : "DISCONNECTED"},
            {"LastHeartbeat", heartbeat_time(pool.value("last_heartbeat_ns", int64_t{0}))}}}};
}

}  // namespace shoal::bacalhau
