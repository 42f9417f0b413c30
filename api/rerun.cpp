// PUT /api/v1/orchestrator/jobs/{id}/rerun: Bacalhau's RerunJob, through
// the broker's `rerun` (client::Client::rerun), answered once the broker
// has stored it.

#include <cctype>

#include "api/routes.h"

namespace shoal::api {
namespace {

using nlohmann::json;

// The request's JobVersion and Reason (Bacalhau's RerunJobRequest; keys in
// any case, others ignored), or a 400 naming what is wrong.
struct RerunBody {
  uint64_t version = 0;
  std::string reason;
};

std::expected<RerunBody, Response> rerun_body(const Request& request) {
  RerunBody out;
  if (request.body.empty()) return out;
  auto body = json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return std::unexpected(
        error_response(request, 400, "the request body is not a JSON object", "InternalError"));
  for (const auto& [key, value] : body.items()) {
    std::string k = key;
    for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (k == "reason") {
      if (!value.is_string())
        return std::unexpected(
            error_response(request, 400, "Reason must be a string", "InternalError"));
      out.reason = value.get<std::string>();
    } else if (k == "jobversion") {
      if (!value.is_number_unsigned())
        return std::unexpected(
            error_response(request, 400, "JobVersion must be a whole number, not " + value.dump(),
                           "InternalError"));
      out.version = value.get<uint64_t>();
    }
  }
  return out;
}

}  // namespace

Response rerun_job(const Request& request, Context& context, const std::string& id) {
  if (request.method != "PUT")
    return error_response(request, 405, "Method Not Allowed", "InternalError");
  auto body = rerun_body(request);
  if (!body) return body.error();
  auto broker = context.broker(request);
  if (!broker) return broker.error();
  // Bacalhau's store errors here are 400 BadRequest (wrapped), not 404.
  auto job = (*broker)->describe(id);
  if (!job) {
    Response r = job_error(request, id, job.error());
    if (r.status == 404)
      r = error_response(request, 400, "job not found: " + id, "BadRequest", "JobStore");
    return r;
  }
  const std::string full = job->value("id", id);
  if (body->version > 1)
    return error_response(request, 400,
                          "job version " + std::to_string(body->version) + " not found for job " +
                              full + " (shoal keeps one version of a job: 1)",
                          "BadRequest", "JobStore");
  auto rerun = (*broker)->rerun(full, body->reason);
  if (!rerun) {
    if (rerun.error().starts_with("cannot rerun job in state")) {
      Response r = error_response(request, 500, rerun.error(), "", "Bacalhau");
      return r;
    }
    return job_error(request, full, rerun.error());
  }
  return json_response({{"EvaluationID", new_uuid()},
                        {"JobID", full},
                        {"JobVersion", 1},
                        {"Warnings", json::array()}});
}

}  // namespace shoal::api
