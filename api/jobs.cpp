// /api/v1/orchestrator/jobs*: Bacalhau's jobs endpoints, answered from the
// broker through the handler thread's client (api/routes.h) and written in
// Bacalhau's models (bacalhau/model.h).
#include <algorithm>
#include <random>
#include <set>

#include "api/routes.h"
#include "bacalhau/model.h"
#include "protocol/constraints.h"
#include "protocol/job.h"

namespace shoal::api {

using nlohmann::json;

Response job_error(const Request& request, const std::string& id, const std::string& error) {
  if (error.starts_with("no job matches"))
    return error_response(request, 404, "job not found: " + id, "NotFound", "JobStore");
  // The broker refuses a reason past its size (stop and rerun): the
  // request is at fault.
  if (error.starts_with("stop: reason") || error.starts_with("rerun: reason"))
    return error_response(request, 400, error, "BadRequest", "Broker");
  if (error.find("matches several jobs") != std::string::npos)
    return error_response(request, 500, "multiple jobs found for id " + id + ": " + error,
                          "MultipleJobsFound", "JobStore");
  return error_response(request, 500, error, "InternalError", "Broker");
}

std::expected<json, Response> find_job(const Request& request, Context& context,
                                       const std::string& id) {
  auto broker = context.broker(request);
  if (!broker) return std::unexpected(broker.error());
  auto job = (*broker)->describe(id);
  if (!job) return std::unexpected(job_error(request, id, job.error()));
  return *job;
}

namespace {

constexpr std::string_view kJobs = "/api/v1/orchestrator/jobs";

// An offset cursor (history, and the list by modified_at): the offset of
// the next item as decimal text after `prefix`.
std::expected<size_t, Response> list_offset(const Request& request, std::string_view prefix = "") {
  auto token = query_value(request, "next_token");
  if (!token || token->empty()) return size_t{0};
  auto bad = [&] {
    return std::unexpected(
        error_response(request, 400, "invalid next_token '" + *token + "'", "InternalError"));
  };
  if (!token->starts_with(prefix) || token->size() == prefix.size()) return bad();
  size_t offset = 0;
  for (char c : token->substr(prefix.size())) {
    if (c < '0' || c > '9' || offset > (size_t{1} << 40)) return bad();
    offset = offset * 10 + static_cast<size_t>(c - '0');
  }
  return offset;
}

// The label selector of the repeated `labels` parameters, ANDed; checked
// here so that a bad one is a 400 naming it.
std::expected<std::string, Response> label_selector(const Request& request) {
  std::string text;
  auto [first, last] = request.query.equal_range("labels");
  for (auto it = first; it != last; ++it) text += (text.empty() ? "" : ",") + it->second;
  if (text.empty()) return text;
  auto selector = jobs::parse_selector(text);
  if (!selector)
    return std::unexpected(
        error_response(request, 400, "invalid label selector '" + text + "': " + selector.error(),
                       "InternalError"));
  return text;
}

// The list's query: Bacalhau's parameters, and shoal's filters `state`
// (repeated or comma-separated), `name` (a part of the name) and `id` (a
// prefix of the id).
std::expected<client::ListQuery, Response> list_query(const Request& request) {
  client::ListQuery q;
  auto selector = label_selector(request);
  if (!selector) return std::unexpected(selector.error());
  q.selector = *selector;
  auto reverse = query_flag(request, "reverse");
  if (!reverse) return std::unexpected(reverse.error());
  q.oldest_first = !*reverse;
  auto limit = query_number(request, "limit", 0);
  if (!limit) return std::unexpected(limit.error());
  q.limit = *limit;
  auto [first, last] = request.query.equal_range("state");
  for (auto it = first; it != last; ++it)
    for (size_t at = 0; at <= it->second.size();) {
      size_t comma = std::min(it->second.find(',', at), it->second.size());
      auto state = it->second.substr(at, comma - at);
      if (!jobs::parse_state(state))
        return std::unexpected(error_response(
            request, 400, "invalid state '" + state + "': not a job state", "InternalError"));
      q.states.push_back(state);
      at = comma + 1;
    }
  q.name = query_value(request, "name").value_or("");
  q.id_prefix = query_value(request, "id").value_or("");
  return q;
}

std::expected<std::vector<json>, Response> list_models(const Request& request, Context& context,
                                                       client::ListQuery q, std::string& next) {
  auto broker = context.broker(request);
  if (!broker) return std::unexpected(broker.error());
  auto page = (*broker)->page(q);
  if (!page) {
    if (page.error().starts_with("after:"))
      return std::unexpected(
          error_response(request, 400, "invalid next_token '" + q.after + "'", "InternalError"));
    return std::unexpected(error_response(request, 500, page.error(), "InternalError", "Broker"));
  }
  next = page->next;
  std::vector<json> items;
  for (const auto& j : page->jobs) items.push_back(bacalhau::job_model(j));
  return items;
}

// By modified_at, which no index orders: every matching job is read and
// sorted, and the token is an offset ("m" and the offset).
Response list_by_modified(const Request& request, Context& context, client::ListQuery q) {
  auto offset = list_offset(request, "m");
  if (!offset) return offset.error();
  const size_t limit = q.limit;
  const bool newest_first = !q.oldest_first;
  q.limit = 0;
  std::string next;
  auto items = list_models(request, context, q, next);
  if (!items) return items.error();
  std::stable_sort(items->begin(), items->end(), [](const json& a, const json& b) {
    return a["ModifyTime"].get<int64_t>() < b["ModifyTime"].get<int64_t>();
  });
  if (newest_first) std::reverse(items->begin(), items->end());
  size_t begin = std::min(*offset, items->size());
  size_t end = limit ? std::min(items->size(), begin + limit) : items->size();
  json page = json::array();
  for (size_t i = begin; i < end; ++i) page.push_back(std::move((*items)[i]));
  return json_response(
      {{"Items", page}, {"NextToken", end < items->size() ? "m" + std::to_string(end) : ""}});
}

// By created_at (the default), along the broker's creation index from the
// token on: a page costs the same with a million jobs stored as with ten,
// and jobs submitted meanwhile are neither missed nor repeated.
Response list_jobs(const Request& request, Context& context) {
  auto order = query_value(request, "order_by").value_or("");
  if (!order.empty() && order != "created_at" && order != "modified_at")
    return error_response(request, 500, "OrderBy " + order + " not supported for listJobs",
                          "InternalError", "Unknown");
  auto q = list_query(request);
  if (!q) return q.error();
  if (order == "modified_at") return list_by_modified(request, context, *q);
  q->after = query_value(request, "next_token").value_or("");
  std::string next;
  auto items = list_models(request, context, *q, next);
  if (!items) return items.error();
  return json_response({{"Items", *items}, {"NextToken", next}});
}

bool terminal(const json& job) {
  auto s = job.value("state", std::string());
  return s == "Completed" || s == "Failed" || s == "Stopped";
}

Response get_job(const Request& request, const json& job) {
  json out = {{"Job", bacalhau::job_model(job)}};
  auto include = query_value(request, "include").value_or("");
  if (include.find("history") != std::string::npos) {
    auto items = bacalhau::history_models(job);
    if (items.size() > 100) items.erase(items.begin() + 100, items.end());
    out["History"] = {{"Items", items}, {"NextToken", ""}};
  }
  if (include.find("executions") != std::string::npos)
    out["Executions"] = {{"Items", bacalhau::execution_models(job, node_id())}, {"NextToken", ""}};
  return json_response(out);
}

// History, with Bacalhau's cursor: NextToken stays non-empty while the job
// can still change, so that a client polling it knows to go on.
Response job_history(const Request& request, const json& job) {
  auto offset = list_offset(request);
  if (!offset) return offset.error();
  auto type = query_value(request, "event_type").value_or("all");
  if (type != "all" && type != "job" && type != "execution")
    return error_response(request, 400, "invalid event type: " + type, "InternalError");
  auto exec = query_value(request, "execution_id").value_or("");
  json items = json::array();
  auto all = bacalhau::history_models(job);
  auto limit_value = query_number(request, "limit", 100);
  if (!limit_value) return limit_value.error();
  const size_t limit = *limit_value > 0 ? *limit_value : 100;
  size_t next = *offset;
  for (size_t i = *offset; i < all.size() && items.size() < limit; ++i, next = i) {
    const auto& h = all[i];
    bool exec_level = h["Type"] == "ExecutionLevel";
    if ((type == "job" && exec_level) || (type == "execution" && !exec_level)) continue;
    if (!exec.empty() && !h.value("ExecutionID", std::string()).starts_with(exec)) continue;
    items.push_back(h);
  }
  if (next < *offset) next = *offset;
  bool more = next < all.size() || !terminal(job);
  return json_response({{"Items", items}, {"NextToken", more ? std::to_string(next) : ""}});
}

std::string stop_reason(const Request& request) {
  if (!request.body.empty()) {
    auto body = json::parse(request.body, nullptr, false);
    if (body.is_object())
      for (const auto& [k, v] : body.items())
        if ((k == "reason" || k == "Reason") && v.is_string()) return v.get<std::string>();
  }
  return query_value(request, "reason").value_or("");
}

Response stop_job(const Request& request, Context& context, const json& job) {
  auto state = job.value("state", std::string());
  if (state == "Stopped") return json_response({{"EvaluationID", ""}});
  if (state == "Completed")
    return error_response(request, 500, "cannot stop job in state Completed", "", "Bacalhau");
  auto broker = context.broker(request);
  if (!broker) return broker.error();
  auto id = job.value("id", std::string());
  auto stopped = (*broker)->stop(id, stop_reason(request));
  if (!stopped) return job_error(request, id, stopped.error());
  return json_response({{"EvaluationID", state == "Failed" ? "" : new_uuid()}});
}

Response method_not_allowed(const Request& request) {
  return error_response(request, 405, "Method Not Allowed", "InternalError");
}

Response one_job(const Request& request, Context& context, const std::string& rest) {
  auto slash = rest.find('/');
  std::string id = rest.substr(0, slash);
  std::string what = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (what == "results" || what.starts_with("results/"))
    return job_action(request, context, id, what);
  if (what == "rerun") return rerun_job(request, context, id);
  // The log stream is a WebSocket (api/logs.h): as Bacalhau's upgrader
  // answers a request that is not an upgrade.
  if (what == "logs")
    return request.method == "GET"
               ? error_response(request, 400,
                                "websocket: the client is not using the websocket protocol: "
                                "'upgrade' token not found in 'Connection' header",
                                "BadRequest")
               : method_not_allowed(request);
  static const std::set<std::string> known = {"", "executions", "history"};
  if (!known.contains(what))
    return error_response(request, 404, "The requested resource/URL was not found.", "NotFound");
  bool del = what.empty() && request.method == "DELETE";
  if (request.method != "GET" && !del) return method_not_allowed(request);
  auto job = find_job(request, context, id);
  if (!job) return job.error();
  if (del) return stop_job(request, context, *job);
  if (what == "executions")
    return json_response(
        {{"Items", bacalhau::execution_models(*job, node_id())}, {"NextToken", ""}});
  if (what == "history") return job_history(request, *job);
  return get_job(request, *job);
}

}  // namespace

std::string new_uuid() {
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) out += '-';
    unsigned v = rd() & 15;
    if (i == 12) v = 4;
    if (i == 16) v = 8 | (v & 3);
    out += kHex[v];
  }
  return out;
}

std::optional<Response> route_jobs(const Request& request, Context& context) {
  if (!request.path.starts_with(kJobs)) return std::nullopt;
  auto rest = request.path.substr(kJobs.size());
  if (rest.empty() || rest == "/") {
    if (request.method == "GET") return list_jobs(request, context);
    if (request.method == "PUT" || request.method == "POST") return submit_job(request, context);
    return method_not_allowed(request);
  }
  if (rest[0] != '/') return std::nullopt;
  return one_job(request, context, rest.substr(1));
}

}  // namespace shoal::api
