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
  return {{"Info",
           {{"NodeID", pool.value("id", "")},
            {"NodeType", "Compute"},
            {"Labels", pool.value("labels", nlohmann::json::object())},
            {"SupportedProtocols", {"ncl/v1"}},
            {"ComputeNodeInfo", compute}}},
          {"Membership", "APPROVED"},
          // Bacalhau's older field beside ConnectionState; its clients read either.
          {"Connection", connected ? "CONNECTED" : "DISCONNECTED"},
          {"ConnectionState",
           {{"Status", connected ? "CONNECTED" : "DISCONNECTED"},
            {"LastHeartbeat", rfc3339(pool.value("last_heartbeat_ns", int64_t{0}))}}}};
}

}  // namespace shoal::bacalhau
