// /api/v1/orchestrator/nodes: the broker as Bacalhau's requester node
// (NodeState), connected and approved since the API started, then each
// worker pool as a compute node, from the broker's `nodes` command (the
// same as `shoal node list`, bacalhau/node_model.h).
#include <chrono>
#include <ctime>

#include "api/routes.h"
#include "bacalhau/node_model.h"

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

nlohmann::json node_state(const ApiOptions& options, const std::vector<nlohmann::json>& pools) {
  static const auto since = rfc3339(std::chrono::system_clock::now());
  return {{"Info", node_info(options, pools)},
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
  if (!rest.empty() && rest != "/" && rest[0] != '/') return std::nullopt;
  auto pools = context.ask(request, [](client::Client& c) { return c.nodes(); });
  if (!pools) return pools.error();
  nlohmann::json nodes = nlohmann::json::array({node_state(context.options, *pools)});
  for (const auto& pool : *pools) nodes.push_back(bacalhau::node_state_model(pool));
  if (rest.empty() || rest == "/") return json_response({{"NextToken", ""}, {"Nodes", nodes}});
  // One node: the one named exactly, else the first whose id starts so.
  auto id = rest.substr(1);
  const nlohmann::json* found = nullptr;
  for (const auto& n : nodes) {
    const std::string nid = n["Info"]["NodeID"];
    if (nid == id) {
      found = &n;
      break;
    }
    if (!found && !id.empty() && nid.starts_with(id)) found = &n;
  }
  if (!found)
    return error_response(request, 404, "node not found: " + id, "NotFound", "NodesManager");
  return json_response({{"Node", *found}});
}

}  // namespace shoal::api
