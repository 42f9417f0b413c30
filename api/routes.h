// The API's requests and responses as plain values, and the routing of a
// request to its handler. Handlers run on a handler thread (api/server.h)
// with that thread's Context; they never touch sockets.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "api/server.h"
#include "client/client.h"

namespace shoal::api {

struct Request {
  std::string method;  // "GET", "PUT", ...
  std::string host;    // the Host header ("127.0.0.1:1234"), for URLs of this server
  std::string path;    // without the query, percent-decoded
  std::multimap<std::string, std::string> query;
  std::string body;
  std::string request_id;  // the X-Request-ID header, echoed in error bodies
};

struct Response {
  unsigned status = 200;
  std::string body;  // JSON text, unless content_type says otherwise
  std::string content_type = "application/json";
  std::string location;  // for redirects
};

// What a handler thread holds: the options and its own broker client,
// connected on first use (and again after a failure).
struct Context {
  const ApiOptions& options;
  std::optional<client::Client> client;
  // The client, connecting it first if needed; a 503 response when the
  // broker cannot be reached.
  std::expected<client::Client*, Response> broker(const Request& request);
  // What `call(client)` answers (a std::expected of the client library), or
  // the response to send instead: 503 when the broker cannot be reached or
  // does not answer, naming why.
  template <class Call>
  auto ask(const Request& request, Call call)
      -> std::expected<typename std::invoke_result_t<Call, client::Client&>::value_type, Response>;
};

// Bacalhau's error body: {"Status","Message","RequestID","Code","Component"}.
Response error_response(const Request& request, unsigned status, const std::string& message,
                        const std::string& code, const std::string& component = "APIServer");

template <class Call>
auto Context::ask(const Request& request, Call call)
    -> std::expected<typename std::invoke_result_t<Call, client::Client&>::value_type, Response> {
  auto c = broker(request);
  if (!c) return std::unexpected(c.error());
  auto answer = call(**c);
  if (!answer)
    return std::unexpected(error_response(request, 503,
                                          "the broker does not answer: " + answer.error(),
                                          "ServiceUnavailable", "Broker"));
  return *std::move(answer);
}

Response json_response(const nlohmann::json& body);

// A random (version 4) UUID, as Bacalhau names evaluations.
std::string new_uuid();

// The first value of a query parameter, if given.
std::optional<std::string> query_value(const Request& request, const std::string& key);
// A query parameter that is a whole number: `fallback` when absent or empty,
// else a 400 naming the parameter and the value (a sign, a fraction, a word
// or a number past 2^53 is refused, never wrapped or cut).
std::expected<uint64_t, Response> query_number(const Request& request, const std::string& key,
                                               uint64_t fallback);
// A boolean query parameter: absent is false; "", "true" and "1" are true;
// "false" and "0" false; anything else a 400 naming it.
std::expected<bool, Response> query_flag(const Request& request, const std::string& key);

// Handles one request (auth checked already).
Response route(const Request& request, Context& context);

// The routes of each part (api/agent.cpp, api/jobs.cpp, api/nodes.cpp); nullopt when the
// path is not theirs.
std::optional<Response> route_agent(const Request& request, Context& context);
std::optional<Response> route_jobs(const Request& request, Context& context);
std::optional<Response> route_nodes(const Request& request, Context& context);
// GET /api/v1/shoal/metrics, shoal's own (api/metrics.cpp).
std::optional<Response> route_metrics(const Request& request, Context& context);
// GET / (the dashboard's page) and its files (api/dashboard.cpp).
std::optional<Response> route_dashboard(const Request& request);

// A broker error about job `id` as Bacalhau's store reports it: unknown ->
// 404 NotFound, an ambiguous prefix -> 500 MultipleJobsFound, else 500.
Response job_error(const Request& request, const std::string& id, const std::string& error);
// The job JSON of `id` (any unique prefix), or the error response.
std::expected<nlohmann::json, Response> find_job(const Request& request, Context& context,
                                                 const std::string& id);

// GET .../jobs/{id}/results and GET .../jobs/{id}/results/ID.tar.gz
// (api/results.cpp); `what` is the path after the id.
Response job_action(const Request& request, Context& context, const std::string& id,
                    const std::string& what);

// PUT .../jobs/{id}/rerun (api/rerun.cpp): Bacalhau's RerunJobResponse.
Response rerun_job(const Request& request, Context& context, const std::string& id);

// PUT|POST /api/v1/orchestrator/jobs (api/submit.cpp).
Response submit_job(const Request& request, Context& context);

// This broker as Bacalhau describes a node (api/agent.cpp): its build
// (BuildVersionInfo), its node ID, its NodeInfo.
nlohmann::json version_info();
std::string node_id();
// Its capacity: the configured local workers, less the local pool's busy
// ones in `pools` (the broker's `nodes` reply; bacalhau::compute_node_info).
nlohmann::json node_info(const ApiOptions& options, const std::vector<nlohmann::json>& pools);

}  // namespace shoal::api
