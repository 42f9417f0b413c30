// /api/v1/orchestrator/nodes: the broker and its local workers as one
// Bacalhau node (NodeState), connected and approved since the API started.
#include <chrono>
#include <ctime>

#include "api/routes.h"

namespace shoal::api {

namespace {

constexpr std::string_view kNodes = "/api/v1/orchestrator/nodes";

std::string rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t s = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&s, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

nlohmann::json node_state(const ApiOptions& options) {
  static const auto since = rfc3339(std::chrono::system_clock::now());
  return {{"Info", node_info(options)},
          {"Membership", "APPROVED"},
          {"Connection", "CONNECTED"},
          {"ConnectionState",
           {{"Status", "CONNECTED"},
            {"LastHeartbeat", rfc3339(std::chrono::system_clock::now())},
            {"ConnectedSince", since},
            {"DisconnectedSince", "0001-01-01T00:00:00Z"}}}};
}

}  // namespace

std::optional<Response> route_nodes(const Request& request, Context& context) {
  if (!request.path.starts_with(kNodes)) return std::nullopt;
  auto rest = request.path.substr(kNodes.size());
  if (request.method != "GET")
    return error_response(request, 405, "Method Not Allowed", "InternalError");
  if (rest.empty() || rest == "/")
    return json_response(
        {{"NextToken", ""}, {"Nodes", nlohmann::json::array({node_state(context.options)})}});
  if (rest[0] != '/') return std::nullopt;
  auto id = rest.substr(1);
  auto mine = node_id();
  if (id.empty() || !mine.starts_with(id))
    return error_response(request, 404, "node not found: " + id, "NotFound", "NodesManager");
  return json_response({{"Node", node_state(context.options)}});
}

}  // namespace shoal::api
