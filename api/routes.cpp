#include "api/routes.h"

namespace shoal::api {

std::expected<client::Client*, Response> Context::broker(const Request& request) {
  if (client) return &*client;
  client::Options o;
  o.state_dir = options.state_dir;
  o.start_broker = false;  // the broker is this process: it is up or starting
  auto c = client::Client::connect(o);
  if (!c)
    return std::unexpected(error_response(request, 503, "the broker does not answer: " + c.error(),
                                          "ServiceUnavailable", "Broker"));
  client.emplace(std::move(*c));
  return &*client;
}

Response error_response(const Request& request, unsigned status, const std::string& message,
                        const std::string& code, const std::string& component) {
  nlohmann::json body = {{"Status", status},
                         {"Message", message},
                         {"RequestID", request.request_id},
                         {"Code", code},
                         {"Component", component}};
  Response r;
  r.status = status;
  r.body = body.dump();
  return r;
}

Response json_response(const nlohmann::json& body) {
  Response r;
  r.body = body.dump();
  return r;
}

std::optional<std::string> query_value(const Request& request, const std::string& key) {
  auto it = request.query.find(key);
  if (it == request.query.end()) return std::nullopt;
  return it->second;
}

std::expected<uint64_t, Response> query_number(const Request& request, const std::string& key,
                                               uint64_t fallback) {
  auto v = query_value(request, key);
  if (!v || v->empty()) return fallback;
  uint64_t n = 0;
  for (char c : *v) {
    if (c < '0' || c > '9' || n > (uint64_t{1} << 53) / 10)
      return std::unexpected(error_response(
          request, 400, "invalid " + key + " '" + *v + "': not a whole number of at most 2^53",
          "InternalError"));
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

std::expected<bool, Response> query_flag(const Request& request, const std::string& key) {
  auto v = query_value(request, key);
  if (!v) return false;
  if (v->empty() || *v == "true" || *v == "1") return true;
  if (*v == "false" || *v == "0") return false;
  return std::unexpected(error_response(
      request, 400, "invalid " + key + " '" + *v + "': true or false", "InternalError"));
}

Response route(const Request& request, Context& context) {
  if (auto r = route_dashboard(request)) return std::move(*r);
  // Bacalhau's short paths, redirected as its server does (but / is the
  // dashboard's page).
  if (request.method == "GET" || request.method == "HEAD") {
    std::string to;
    if (request.path == "/version") to = "/api/v1/agent/version";
    if (request.path == "/livez") to = "/api/v1/agent/alive";
    if (!to.empty()) {
      Response r;
      r.status = 307;
      r.location = to;
      r.body = "{}";
      return r;
    }
  }
  if (auto r = route_agent(request, context)) return std::move(*r);
  if (auto r = route_jobs(request, context)) return std::move(*r);
  if (auto r = route_nodes(request, context)) return std::move(*r);
  if (auto r = route_metrics(request, context)) return std::move(*r);
  return error_response(request, 404, "The requested resource/URL was not found.", "NotFound");
}

}  // namespace shoal::api
