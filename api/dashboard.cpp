// GET / and the dashboard's files (api/dashboard_assets.h): shoal's web
// dashboard, served by the API it talks to, so that it needs no other
// server and reads the API from its own origin.
#include "api/dashboard_assets.h"
#include "api/routes.h"

namespace shoal::api {

std::optional<Response> route_dashboard(const Request& request) {
  if (request.method != "GET" && request.method != "HEAD") return std::nullopt;
  const std::string_view path = request.path == "/index.html" ? "/" : request.path;
  for (const auto& asset : dashboard_assets()) {
    if (asset.path != path) continue;
    Response r;
    r.body = std::string(asset.bytes);
    r.content_type = std::string(asset.content_type);
    return r;
  }
  return std::nullopt;
}

}  // namespace shoal::api
