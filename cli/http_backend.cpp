#include "cli/http_backend.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "bacalhau/model_reader.h"
#include "bacalhau/results_archive.h"
#include "bacalhau/spec.h"
#include "cli/commands.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

constexpr std::string_view kJobs = "/api/v1/orchestrator/jobs/";

bool ended(const std::string& state) {
  return state == "Completed" || state == "Failed" || state == "Stopped";
}

// A YAML tree as JSON, every scalar a string (the API's spec reader reads
// JSON scalars as YAML scalars: "5" and 5 are one to it).
json yaml_to_json(const YAML::Node& n) {
  if (n.IsMap()) {
    json out = json::object();
    for (const auto& kv : n) out[kv.first.as<std::string>()] = yaml_to_json(kv.second);
    return out;
  }
  if (n.IsSequence()) {
    json out = json::array();
    for (const auto& v : n) out.push_back(yaml_to_json(v));
    return out;
  }
  if (n.IsScalar()) return n.as<std::string>();
  return nullptr;
}

std::expected<std::string, std::string> file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(path + ": cannot be read");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class HttpBackend final : public Backend {
 public:
  explicit HttpBackend(const apiclient::Endpoint& e) : http_(e) {}

  std::expected<std::string, std::string> submit(const bacalhau::RunRequest& request,
                                                 const client::Submission&) override {
    if (!request.stdin_file.empty())
      return std::unexpected("shoal " + command_name() +
                             " --stdin does not work over the REST API (Bacalhau's jobs have "
                             "no stdin); run it without --api-host/--api-port");
    auto yaml = bacalhau::write_bacalhau_spec(request, file_text);
    if (!yaml) return std::unexpected(yaml.error());
    json body;
    try {
      body = {{"Job", yaml_to_json(YAML::Load(*yaml))}};
    } catch (const YAML::Exception& e) {
      return std::unexpected(std::string("the job as a Bacalhau spec: ") + e.what());
    }
    auto r = http_.call("PUT", "/api/v1/orchestrator/jobs", body.dump());
    if (!r) return std::unexpected(r.error());
    return r->value("JobID", "");
  }

  std::expected<json, std::string> describe(const std::string& id) override {
    auto got =
        http_.call("GET", std::string(kJobs) + apiclient::encode(id) + "?include=executions");
    if (!got) return std::unexpected(got.error());
    const json& job = (*got)["Job"];
    const std::string base = std::string(kJobs) + job.value("ID", "");
    auto history = http_.call("GET", base + "/history?limit=1000000");
    if (!history) return std::unexpected(history.error());
    auto results = http_.call("GET", base + "/results");
    if (!results) return std::unexpected(results.error());
    json params = nullptr;
    if ((*results)["Items"].is_array() && !(*results)["Items"].empty())
      params = (*results)["Items"][0].value("Params", json(nullptr));
    json executions = got->contains("Executions") ? (*got)["Executions"]["Items"] : json::array();
    return bacalhau::job_from_models(job, executions, (*history)["Items"], params);
  }

  // One page of GET /api/v1/orchestrator/jobs: the query's filters as its
  // parameters, `after` as next_token and NextToken as `next`.
  std::expected<client::ListPage, std::string> page(const client::ListQuery& q) override {
    if (!q.array.empty())
      return std::unexpected("shoal " + command_name() +
                             " --array does not work over the REST API; run it without "
                             "--api-host/--api-port");
    std::string target = "/api/v1/orchestrator/jobs?limit=" + std::to_string(q.limit);
    target += q.oldest_first ? "&reverse=false" : "&reverse=true";
    if (!q.selector.empty()) target += "&labels=" + apiclient::encode(q.selector);
    for (const auto& [k, v] : q.labels)
      target += "&labels=" + apiclient::encode(v.empty() ? k : k + "=" + v);
    for (const auto& state : q.states) target += "&state=" + apiclient::encode(state);
    if (!q.name.empty()) target += "&name=" + apiclient::encode(q.name);
    if (!q.id_prefix.empty()) target += "&id=" + apiclient::encode(q.id_prefix);
    if (!q.after.empty()) target += "&next_token=" + apiclient::encode(q.after);
    auto got = http_.call("GET", target);
    if (!got) {
      if (!q.after.empty() && got.error().find("invalid next_token") != std::string::npos)
        return std::unexpected("after: " + got.error());
      return std::unexpected(got.error());
    }
    client::ListPage page;
    for (const auto& item : (*got)["Items"])
      page.jobs.push_back(bacalhau::job_from_models(item, json::array(), json::array()));
    page.next = got->value("NextToken", "");
    return page;
  }

  std::expected<json, std::string> wait(const std::string& id, const client::WaitCallbacks& cb,
                                        std::optional<std::chrono::milliseconds> limit) override;

  std::expected<json, std::string> logs(const std::string& id, client::Stream stream, bool follow,
                                        const client::ChunkHandler& on_chunk,
                                        const std::string& execution) override;

  std::expected<std::vector<std::filesystem::path>, std::string> fetch_outputs(
      const std::string& id, const std::filesystem::path& dir) override;

  std::expected<json, std::string> stop(const std::string& id, const std::string& reason) override {
    auto job = describe(id);
    if (!job) return std::unexpected(job.error());
    const std::string full = (*job)["id"];
    auto r =
        http_.call("DELETE", std::string(kJobs) + full +
                                 (reason.empty() ? "" : "?reason=" + apiclient::encode(reason)));
    if (!r) return std::unexpected(r.error());
    return describe(full);
  }

  std::expected<json, std::string> rerun(const std::string& id,
                                         const std::string& reason) override {
    auto job = describe(id);
    if (!job) return std::unexpected(job.error());
    const std::string full = (*job)["id"];
    const json body = {{"JobVersion", 0}, {"Reason", reason}};
    auto r = http_.call("PUT", std::string(kJobs) + full + "/rerun", body.dump());
    if (!r) return std::unexpected(r.error());
    return describe(full);
  }

  std::expected<json, std::string> agent(const std::string& what) override {
    return http_.call("GET", "/api/v1/agent/" + what);
  }

  client::Client* socket() override { return nullptr; }

 private:
  apiclient::HttpClient http_;
};

// Polls the job (its Job model alone) until it ends: 50 ms at first, then
// up to 500 ms between looks; each state change goes to on_state.
std::expected<json, std::string> HttpBackend::wait(const std::string& id,
                                                   const client::WaitCallbacks& cb,
                                                   std::optional<std::chrono::milliseconds> limit) {
  const auto start = std::chrono::steady_clock::now();
  auto pause = std::chrono::milliseconds(50);
  std::string last, full = id;
  for (;;) {
    auto got = http_.call("GET", std::string(kJobs) + apiclient::encode(full));
    if (!got) return std::unexpected(got.error());
    json job = bacalhau::job_from_models((*got)["Job"], json::array(), json::array());
    full = job["id"];
    const std::string state = job["state"];
    if (state != last && cb.on_state) cb.on_state(job);
    last = state;
    if (ended(state)) return describe(full);
    if (limit && std::chrono::steady_clock::now() - start >= *limit)
      return std::unexpected("job " + full + " is still " + last +
                             " after the wait timeout; it goes on (shoal job logs -f " + full +
                             ")");
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(500));
  }
}

// The log WebSocket: each frame a line of stdout (Type 1) or stderr (2),
// handed on as the program wrote it; then the job's JSON.
std::expected<json, std::string> HttpBackend::logs(const std::string& id, client::Stream stream,
                                                   bool follow,
                                                   const client::ChunkHandler& on_chunk,
                                                   const std::string& execution) {
  if (!execution.empty())
    return std::unexpected("shoal " + command_name() +
                           " --execution-id does not work over the REST API; run it without "
                           "--api-host/--api-port");
  auto job = describe(id);
  if (!job) return std::unexpected(job.error());
  const std::string full = (*job)["id"];
  std::string error;
  auto r =
      http_.websocket(std::string(kJobs) + full + "/logs?follow=" + (follow ? "true" : "false"),
                      [&](std::string_view frame) {
                        auto f = json::parse(frame, nullptr, false);
                        if (f.is_discarded()) return;
                        if (f.contains("error")) error = f["error"].get<std::string>();
                        const json& v = f.value("value", json::object());
                        const int type = v.value("Type", 0);
                        const std::string line = v.value("Line", "");
                        if (type == 0 || line.empty()) return;
                        if ((type == 1 && stream == client::Stream::stderr_only) ||
                            (type == 2 && stream == client::Stream::stdout_only))
                          return;
                        on_chunk(type == 2 ? "stderr" : "stdout", line);
                      });
  if (!r) return std::unexpected(r.error());
  if (!error.empty()) return std::unexpected(error);
  return follow ? describe(full) : *job;
}

// The results tar (GET .../results names it) unpacked under `dir`.
std::expected<std::vector<std::filesystem::path>, std::string> HttpBackend::fetch_outputs(
    const std::string& id, const std::filesystem::path& dir) {
  auto job = describe(id);
  if (!job) return std::unexpected(job.error());
  const std::string full = (*job)["id"];
  auto results = http_.call("GET", std::string(kJobs) + full + "/results");
  if (!results) return std::unexpected(results.error());
  std::string url;
  for (const auto& item : (*results)["Items"])
    if (item.value("Type", "") == "urlDownload") url = item["Params"].value("URL", "");
  // The path of the URL, asked of this endpoint (the server may know
  // itself by another name).
  auto path_at = url.find('/', url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  if (url.empty() || path_at == std::string::npos)
    return std::unexpected("job " + full + ": the REST API names no results to download");
  if (auto fit = client::results_fit(*job, dir); !fit) return std::unexpected(fit.error());
  bacalhau::ResultsReader archive(dir);
  auto got = http_.download(url.substr(path_at),
                            [&](std::string_view bytes) { return archive.feed(bytes); });
  if (!got) return std::unexpected(got.error());
  return archive.finish();
}

}  // namespace

std::unique_ptr<Backend> make_http_backend(const apiclient::Endpoint& endpoint) {
  return std::make_unique<HttpBackend>(endpoint);
}

}  // namespace shoal::cli
