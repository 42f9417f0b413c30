// PUT|POST /api/v1/orchestrator/jobs: a Bacalhau job read by the same
// reader as `shoal job run` (bacalhau/spec.h), its module and inline inputs
// loaded here, and submitted to the broker; answered once the broker has
// stored it.
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "api/routes.h"
#include "bacalhau/spec.h"
#include "host/fetch.h"
#include "protocol/job_json.h"

namespace shoal::api {

namespace {

using nlohmann::json;

std::expected<std::string, std::string> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(path + ": " + std::strerror(errno));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A URL's body.
std::expected<std::string, std::string> download(const std::string& url) {
  auto got = host::fetch_bytes(url);
  if (!got) return std::unexpected(got.error().message);
  return *std::move(got);
}

std::expected<std::string, std::string> module_bytes(const bacalhau::ModuleRef& m) {
  using Kind = bacalhau::ModuleRef::Kind;
  std::expected<std::string, std::string> bytes =
      m.kind == Kind::inline_data ? std::expected<std::string, std::string>(m.bytes)
      : m.kind == Kind::url       ? download(m.source)
                                  : file_bytes(m.source);
  if (!bytes) return bytes;
  std::string shown = m.target.empty() ? m.source : m.target;
  if (bytes->size() < 8 || bytes->compare(0, 4, std::string("\0asm", 4)) != 0)
    return std::unexpected(shown + " is not a WebAssembly module");
  return bytes;
}

// Without a token, the API on 127.0.0.1 answers every user of this machine,
// while the broker's own socket answers only its owner: a path on the
// broker's host (a module or an input) is then refused, so that no other
// local user reads through the API what the owner can read. With
// --api-token-file the caller holds the owner's token, and may.
std::expected<void, std::string> host_paths_allowed(const bacalhau::RunRequest& r,
                                                    const ApiOptions& options) {
  if (!options.token.empty()) return {};
  const std::string why =
      " is a path on the broker's host, which the API refuses without --api-token-file "
      "(any local user can reach it): send it inline as a data URL or by http(s) URL";
  using Kind = bacalhau::ModuleRef::Kind;
  if (r.module.kind == Kind::local)
    return std::unexpected("Tasks[0].Engine.Params.EntryModule: " + r.module.source + why);
  for (const auto& imp : r.imports)
    if (imp.module.kind == Kind::local)
      return std::unexpected("Tasks[0].Engine.Params.ImportModules (" + imp.name +
                             "): " + imp.module.source + why);
  for (size_t i = 0; i < r.spec.inputs.size(); ++i)
    if (!r.spec.inputs[i].is_url())
      return std::unexpected("Tasks[0].InputSources (" + r.spec.inputs[i].target +
                             "): " + r.spec.inputs[i].source + why);
  return {};
}

std::expected<client::Submission, std::string> submission(const bacalhau::RunRequest& r) {
  client::Submission job;
  // Bacalhau's PUT /api/v1/orchestrator/jobs answers with one job's id.
  if (r.array)
    return std::unexpected(std::string(bacalhau::kArrayKey) +
                           ": job arrays are submitted with `shoal job run` or the client "
                           "protocol, not over the REST API");
  jobs::JobSpec spec = r.spec;
  const bool stored = r.module.kind == bacalhau::ModuleRef::Kind::stored;
  if (!stored) {
    auto module = module_bytes(r.module);
    if (!module) return std::unexpected("Tasks[0].Engine.Params.EntryModule: " + module.error());
    job.module = std::move(*module);
  }
  for (const auto& imp : r.imports) {
    auto bytes = module_bytes(imp.module);
    if (!bytes)
      return std::unexpected("Tasks[0].Engine.Params.ImportModules (" + imp.name +
                             "): " + bytes.error());
    job.import_modules.push_back(std::move(*bytes));
    spec.import_modules.push_back(
        {imp.name, imp.module.target.empty() ? imp.module.source : imp.module.target, ""});
  }
  for (const auto& in : r.inline_inputs) {
    job.inline_inputs.push_back(in.bytes);
    spec.inline_inputs.push_back({in.target, "", 0});
  }
  job.spec = jobs::submission_json(spec);
  // A module the broker stores goes by its SHA-256 alone (bacalhau/request.h).
  if (stored) job.spec["module_sha256"] = r.module.source;
  return job;
}

// The request body's "Job" (its key matched without regard to case, as
// Bacalhau's server reads it).
std::expected<json, std::string> job_of(const std::string& body) {
  auto parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return std::unexpected(std::string("the request body is not a JSON object with a Job"));
  for (const auto& [key, value] : parsed.items()) {
    std::string lower;
    for (char c : key) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "job") {
      if (!value.is_object()) return std::unexpected(std::string("Job: empty/nil job"));
      return value;
    }
  }
  return std::unexpected(std::string("Job: empty/nil job"));
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : "\n") + l;
  return out;
}

}  // namespace

Response submit_job(const Request& request, Context& context) {
  auto bad = [&](const std::string& message) {
    return error_response(request, 400, message, "InternalError");
  };
  auto job = job_of(request.body);
  if (!job) return bad(job.error());
  auto read = bacalhau::read_bacalhau_spec(job->dump(), "Job", "/");
  if (!read) return bad(joined(read.error()));
  if (auto allowed = host_paths_allowed(*read, context.options); !allowed)
    return bad(allowed.error());
  auto sub = submission(*read);
  if (!sub) return bad(sub.error());
  auto broker = context.broker(request);
  if (!broker) return broker.error();
  auto id = (*broker)->submit(*sub);
  if (!id) return bad(id.error());
  // What the spec asked that shoal accepts without doing (Resources CPU...).
  json warnings = read->warnings;
  return json_response({{"JobID", *id}, {"EvaluationID", new_uuid()}, {"Warnings", warnings}});
}

}  // namespace shoal::api
