#include "bacalhau/node_model.h"

#include <ctime>
#include <string>

namespace shoal::bacalhau {
namespace {

std::string rfc3339(int64_t ns) {
  std::time_t s = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  ::gmtime_r(&s, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

}  // namespace

nlohmann::json node_state_model(const nlohmann::json& pool) {
  const uint64_t slots = pool.value("slots", uint64_t{0});
  const uint64_t busy = pool.value("busy", uint64_t{0});
  const bool connected = pool.value("state", "") == "connected";
  nlohmann::json compute = {{"ExecutionEngines", {"wasm"}},
                            {"Publishers", {"local"}},
                            {"StorageSources", {"inline", "urlDownload", "local"}},
                            {"MaxCapacity", {{"CPU", slots}}},
                            {"AvailableCapacity", {{"CPU", slots > busy ? slots - busy : 0}}},
                            {"QueueCapacity", nlohmann::json::object()},
                            {"RunningExecutions", busy},
                            {"EnqueuedExecutions", 0}};
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
      info["Pilot"]["SubmitTime"] = rfc3339(p.value("submitted_ns", int64_t{0}));
  }
  return {{"Info", info},
          {"Membership", "APPROVED"},
          // Bacalhau's older field beside ConnectionState; its clients read either.
          {"Connection", connected ? "CONNECTED" : "DISCONNECTED"},
          {"ConnectionState",
           {{"Status", connected ? "CONNECTED" : "DISCONNECTED"},
            {"LastHeartbeat", rfc3339(pool.value("last_heartbeat_ns", int64_t{0}))}}}};
}

}  // namespace shoal::bacalhau
