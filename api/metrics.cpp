// GET /api/v1/shoal/metrics: the broker's last hour of activity (the
// `metrics` command, broker/metrics.h) for the dashboard's plots, under a
// path of shoal's own, outside Bacalhau's namespace (docs/http-api.md).
// The broker's reply with the API's PascalCase keys; the series are
// columns, one value per 10-second bucket, oldest first.
#include "api/routes.h"

namespace shoal::api {

using nlohmann::json;

std::optional<Response> route_metrics(const Request& request, Context& context) {
  if (request.path != "/api/v1/shoal/metrics") return std::nullopt;
  if (request.method != "GET")
    return error_response(request, 405, "Method Not Allowed", "InternalError");
  auto m = context.ask(request, [](client::Client& c) { return c.metrics(); });
  if (!m) return m.error();
  json nodes = json::array();
  for (const json& p : m->value("pools", json::array()))
    nodes.push_back({{"ID", p.value("id", "")},
                     {"Slots", p.value("slots", json::array())},
                     {"Busy", p.value("busy", json::array())}});
  const auto column = [&](const char* key) { return m->value(key, json::array()); };
  return json_response(
      {{"BucketSeconds", m->value("bucket_seconds", 10)},
       {"Time", column("start_ns")},
       {"Submitted", column("submitted")},
       {"Completed", column("completed")},
       {"Failed", column("failed")},
       {"Stopped", column("stopped")},
       {"Waiting", column("waiting")},
       {"Running", column("running")},
       {"RunTimes", {{"BoundsMs", column("run_time_bounds_ms")}, {"Counts", column("run_times")}}},
       {"Nodes", nodes}});
}

}  // namespace shoal::api
