// GET /api/v1/orchestrator/jobs/{id}/results: Bacalhau's published results
// of a job, one `urlDownload` item naming the archive below, with the
// job's output files and what a cap left out of them (OutputFiles,
// OutputsMessage) so that a client can show them without downloading;
// `Items` is empty until the job has ended.
//
// GET .../jobs/{id}/results/{id}.tar.gz: the archive itself
// (bacalhau/results_archive.h): stdout, stderr, exitCode and each output
// file, every byte read from the broker's store through the handler's
// client (the same calls as `shoal job get`), never from the file system,
// so a download cannot reach anything but the job's stored results.
#include "api/routes.h"
#include "bacalhau/results_archive.h"

namespace shoal::api {

namespace {

using nlohmann::json;

bool ended(const json& job) {
  const std::string s = job.value("state", "");
  return s == "Completed" || s == "Failed" || s == "Stopped";
}

Response results_list(const Request& request, const json& job) {
  json items = json::array();
  if (ended(job)) {
    const std::string id = job.value("id", "");
    json files = json::array();
    for (const auto& f : job.value("output_files", json::array()))
      files.push_back({{"Name", f.value("name", "")},
                       {"Path", f.value("path", "")},
                       {"Size", f.value("size", uint64_t{0})}});
    const std::string host = request.host.empty() ? "127.0.0.1" : request.host;
    items.push_back({{"Type", "urlDownload"},
                     {"Params",
                      {{"URL", "http://" + host + "/api/v1/orchestrator/jobs/" + id + "/results/" +
                                   id + ".tar.gz"},
                       {"OutputFiles", files},
                       {"OutputsMessage", job.value("outputs_message", "")}}}});
  }
  return json_response({{"Items", items}, {"NextToken", ""}});
}

// The archive of an ended job, built from the store.
std::expected<std::string, std::string> archive(client::Client& c, const json& job) {
  const std::string id = job.value("id", "");
  std::string out, err;
  auto end =
      c.logs(id, client::Stream::all, false,
             [&](const std::string& s, const std::string& d) { (s == "stderr" ? err : out) += d; });
  if (!end) return std::unexpected(end.error());
  bacalhau::ResultsWriter writer;
  std::string body = writer.add("stdout", out);
  body += writer.add("stderr", err);
  if (job.contains("exit_code") && !job["exit_code"].is_null())
    body += writer.add("exitCode", job["exit_code"].dump());
  for (const auto& f : job.value("output_files", json::array())) {
    const std::string name = f.value("name", ""), path = f.value("path", "");
    auto bytes = c.output(id, name, path);
    if (!bytes) return std::unexpected("output " + name + "/" + path + ": " + bytes.error());
    body += writer.add(name + "/" + path, *bytes);
  }
  body += writer.finish();
  return body;
}

Response results_archive(const Request& request, Context& context, const json& job,
                         const std::string& file) {
  const std::string id = job.value("id", "");
  if (file != id + ".tar.gz")
    return error_response(
        request, 404,
        "no results file " + file + " for job " + id + " (its results are " + id + ".tar.gz)",
        "NotFound", "APIServer");
  if (!ended(job))
    return error_response(request, 409,
                          "job " + id + " is still " + job.value("state", "") +
                              ": its results are there once it has ended",
                          "ResourceInUse", "JobStore");
  auto broker = context.broker(request);
  if (!broker) return broker.error();
  auto body = archive(**broker, job);
  if (!body) return error_response(request, 500, body.error(), "InternalError", "Broker");
  Response r;
  r.body = std::move(*body);
  r.content_type = "application/gzip";
  return r;
}

}  // namespace

Response job_action(const Request& request, Context& context, const std::string& id,
                    const std::string& what) {
  if (request.method != "GET")
    return error_response(request, 405, "Method Not Allowed", "InternalError");
  auto job = find_job(request, context, id);
  if (!job) return job.error();
  if (what == "results") return results_list(request, *job);
  return results_archive(request, context, *job, what.substr(std::string("results/").size()));
}

}  // namespace shoal::api
