#include "client/client.h"

#include <cstdlib>
#include <fstream>
#include <set>
#include <system_error>
#include <thread>

#include "client/connection.h"
#include "host/state_dir.h"
#include "protocol/client_protocol.h"
#include "protocol/sha256.h"
#include "protocol/units.h"

namespace shoal::client {

// Modules from this size up are first submitted by SHA-256 alone.
constexpr size_t kSubmitByHashFrom = size_t{1} << 20;

using nlohmann::json;
using std::chrono::milliseconds;

struct Client::Impl {
  Options options;
  host::StateDir dir;
  std::unique_ptr<Connection> conn;
  // Modules this client submitted (by SHA-256): the broker has them, and
  // later submissions name them instead of sending them again.
  std::set<std::string> stored_modules;

  // A fresh socket (and a broker, when allowed and none runs).
  std::expected<void, std::string> reopen() {
    conn.reset();
    // A remote broker (SHOAL_CONNECT, docs/remote.md) unless a state
    // directory was named.
    const char* remote = std::getenv("SHOAL_CONNECT");
    auto c =
        options.state_dir.empty() && remote && *remote
            ? Connection::open(false)
            : Connection::open(dir, options.start_broker, options.shoal_binary, options.timeout);
    if (!c) return std::unexpected(c.error());
    conn = std::move(*c);
    return {};
  }

  std::expected<void, std::string> ensure_open() {
    if (conn) return {};
    return reopen();
  }

  // One request with one answer. Requests that are safe to repeat are sent
  // again on a fresh socket after a timeout.
  std::expected<Reply, std::string> call(protocol::Command command, const json& body,
                                         const std::vector<std::string>& frames, bool repeatable) {
    for (int attempt = 0;; ++attempt) {
      if (auto r = ensure_open(); !r) return std::unexpected(r.error());
      conn->send(command, body, frames);
      auto r = conn->next(options.timeout);
      if (r) {
        if (r->kind == protocol::kError)
          return std::unexpected(r->body.is_object() ? r->body.value("error", "unknown error")
                                                     : "unknown error");
        return r;
      }
      if (!conn->timed_out()) return std::unexpected(r.error());
      conn.reset();  // its late answer must not be taken for another's
      if (!repeatable)
        return std::unexpected("the broker did not answer '" +
                               std::string(protocol::name(command)) + "' within " +
                               std::to_string(options.timeout.count()) +
                               " ms; it may or may not have been done (" + dir.root + ")");
      if (attempt >= options.retries)
        return std::unexpected(
            "the broker did not answer '" + std::string(protocol::name(command)) + "' after " +
            std::to_string(attempt + 1) + " tries of " + std::to_string(options.timeout.count()) +
            " ms (" + dir.root + "; see " + dir.log_file + ")");
    }
  }

  // Runs a streaming request (watch, logs) until `handle` says it is done.
  // While nothing arrives it pings the broker every `options.timeout`; when
  // a ping goes unanswered it resends the request on a fresh socket (after
  // `on_restart`), at most `options.retries` times in a row.
  // `handle` returns a final value, or nullopt to go on.
  template <class Handle>
  std::expected<json, std::string> stream(protocol::Command command, const json& body,
                                          std::optional<milliseconds> limit,
                                          const std::function<void()>& on_restart,
                                          Handle&& handle) {
    auto deadline = std::chrono::steady_clock::now() + limit.value_or(milliseconds(0));
    int failures = 0;
    bool ping_sent = false;
    if (auto r = ensure_open(); !r) return std::unexpected(r.error());
    conn->send(command, body);
    for (;;) {
      milliseconds wait = options.timeout;
      if (limit) {
        auto left =
            std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
          conn.reset();  // drop the subscription with the socket
          return std::unexpected(std::string("time limit"));
        }
        wait = std::min(wait, left);
      }
      auto r = conn->next(wait);
      if (!r) {
        if (!conn->timed_out()) {
          conn.reset();  // abandoned (interrupted): its later messages go with the socket
          return std::unexpected(r.error());
        }
        if (limit && std::chrono::steady_clock::now() >= deadline) continue;
        if (!ping_sent) {
          conn->send(protocol::Command::kPing, json::object());
          ping_sent = true;
          continue;
        }
        if (++failures > options.retries) {
          conn.reset();  // given up on: what it sends if it wakes goes with the socket
          return std::unexpected("the broker stopped answering (" + dir.root + "; see " +
                                 dir.log_file + ")");
        }
        if (auto o = reopen(); !o) return std::unexpected(o.error());
        on_restart();
        ping_sent = false;
        conn->send(command, body);
        continue;
      }
      failures = 0;
      if (r->kind == protocol::kOk) {  // a ping's answer: the broker is there
        ping_sent = false;
        continue;
      }
      if (r->kind == protocol::kError)
        return std::unexpected(r->body.is_object() ? r->body.value("error", "unknown error")
                                                   : "unknown error");
      std::optional<json> done;
      try {
        done = handle(*r);
      } catch (...) {
        conn.reset();  // a handler that threw abandons the stream, as an interrupt does
        throw;
      }
      if (done) return *done;
    }
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

std::expected<Client, std::string> Client::connect(const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->dir = options.state_dir.empty() ? host::state_dir() : host::state_dir_at(options.state_dir);
  if (auto r = impl->reopen(); !r) return std::unexpected(r.error());
  return Client(std::move(impl));
}

const std::string& Client::state_dir() const {
  return impl_->dir.root;
}

std::expected<std::string, std::string> Client::submit(const Submission& job) {
  const std::string_view module = job.module.empty() ? job.module_view : job.module;
  // The module (sent only when the broker lacks it), stdin (empty: none;
  // present whenever more frames follow), the import modules, the inline
  // inputs (docs/protocol.md).
  std::vector<std::string> frames{""};
  bool more = !job.import_modules.empty() || !job.inline_inputs.empty();
  if (job.stdin_data || more) frames.push_back(job.stdin_data.value_or(""));
  frames.insert(frames.end(), job.import_modules.begin(), job.import_modules.end());
  frames.insert(frames.end(), job.inline_inputs.begin(), job.inline_inputs.end());
  // A module this client sent before, or a large one (which the broker may
  // well have from an earlier command), goes by its SHA-256 alone first.
  nlohmann::json spec = job.spec;
  if (!job.array.is_null()) spec["array"] = job.array;
  const std::string hash = module.empty()               ? ""
                           : !job.module_sha256.empty() ? job.module_sha256
                                                        : sha256_hex(module);
  if (!hash.empty()) spec["module_sha256"] = hash;
  if (!hash.empty() &&
      (impl_->stored_modules.contains(hash) || module.size() >= kSubmitByHashFrom)) {
    auto r = impl_->call(protocol::Command::kSubmit, spec, frames, false);
    if (r) {
      impl_->stored_modules.insert(hash);
      return r->body.value("id", "");
    }
    if (r.error().find("no module with module_sha256") == std::string::npos)
      return std::unexpected(r.error());
  }
  frames[0] = module;  // not stored (any more), or small: send it
  // A frame far past the broker's limit would be cut by ZeroMQ with no
  // answer: large ones are measured against the limit first.
  size_t largest = module.size();
  for (size_t i = 1; i < frames.size(); ++i) largest = std::max(largest, frames[i].size());
  if (largest >= kSubmitByHashFrom) {
    auto pong = impl_->call(protocol::Command::kPing, json::object(), {}, true);
    if (!pong) return std::unexpected(pong.error());
    const uint64_t limit = pong->body.value("max_module_bytes", uint64_t{0});
    auto over = [&](size_t size, const std::string& what) -> std::optional<std::string> {
      if (limit == 0 || size <= limit) return std::nullopt;
      return what + " is " + units::format_bytes(size) + ", more than the broker's limit of " +
             units::format_bytes(limit) + " (shoal serve --max-module-size)";
    };
    const std::string name = job.spec.value("module", "");
    if (auto e = over(module.size(), "the module" + (name.empty() ? "" : " " + name)))
      return std::unexpected(*e);
    for (size_t i = 1; i < frames.size(); ++i)
      if (auto e = over(frames[i].size(), i == 1 ? "stdin" : "an import module or inline input"))
        return std::unexpected(*e);
  }
  auto r = impl_->call(protocol::Command::kSubmit, spec, frames, false);
  if (!r) return std::unexpected(r.error());
  impl_->stored_modules.insert(hash);
  return r->body.value("id", "");
}

std::expected<json, std::string> Client::describe(const std::string& id) {
  auto r = impl_->call(protocol::Command::kGet, {{"id", id}}, {}, true);
  if (!r) return std::unexpected(r.error());
  return r->body;
}

std::expected<json, std::string> Client::describe_array(const std::string& id) {
  auto r = impl_->call(protocol::Command::kGet, {{"id", id}, {"array", true}}, {}, true);
  if (!r) return std::unexpected(r.error());
  if (!r->body.value("array", false))
    return std::unexpected("'" + id + "' names a job, not a job array");
  return r->body;
}

std::expected<std::vector<json>, std::string> Client::list(const ListQuery& query,
                                                           std::vector<std::string>* skipped) {
  auto r = page(query);
  if (!r) return std::unexpected(r.error());
  if (skipped) skipped->insert(skipped->end(), r->skipped.begin(), r->skipped.end());
  return std::move(r->jobs);
}

std::expected<ListPage, std::string> Client::page(const ListQuery& query) {
  json q = {{"reversed", query.oldest_first}};
  if (!query.id_prefix.empty()) q["id_prefix"] = query.id_prefix;
  if (!query.labels.empty()) q["labels"] = query.labels;
  if (!query.selector.empty()) q["selector"] = query.selector;
  if (!query.states.empty()) q["states"] = query.states;
  if (!query.name.empty()) q["name"] = query.name;
  if (!query.array.empty()) q["array"] = query.array;
  ListPage out;
  out.next = query.after;
  do {
    q["after"] = out.next;
    q["limit"] = query.limit ? query.limit - out.jobs.size() : 0;
    auto r = impl_->call(protocol::Command::kList, q, {}, true);
    if (!r) return std::unexpected(r.error());
    for (auto& j : r->body["jobs"]) out.jobs.push_back(std::move(j));
    if (r->body.contains("skipped") && r->body["skipped"].is_array())
      for (const auto& d : r->body["skipped"])
        out.skipped.push_back(d.value("key", "?") + ": " + d.value("error", "?"));
    out.next = r->body.value("next", "");
  } while (!out.next.empty() && (query.limit == 0 || out.jobs.size() < query.limit));
  return out;
}

std::expected<json, std::string> Client::wait(const std::string& id, const WaitCallbacks& callbacks,
                                              std::optional<milliseconds> limit) {
  std::string last = "Queued";
  auto r = impl_->stream(
      protocol::Command::kWatch, {{"id", id}}, limit, [] {},
      [&](const Reply& m) -> std::optional<json> {
        if (m.kind == "progress") {
          if (callbacks.on_progress)
            callbacks.on_progress(m.body.value("url", ""), m.body.value("done", uint64_t{0}),
                                  m.body.value("total", uint64_t{0}));
          return std::nullopt;
        }
        last = m.body.value("state", last);
        if (callbacks.on_state) callbacks.on_state(m.body);
        if (m.kind == protocol::kEnd) return m.body;
        return std::nullopt;
      });
  if (!r && r.error() == "time limit")
    return std::unexpected("job " + id + " is still " + last +
                           " after the wait timeout; it goes on (shoal job logs -f " + id + ")");
  return r;
}

std::expected<json, std::string> Client::wait_array(
    const std::string& id, const std::function<void(const json&)>& on_progress,
    std::optional<milliseconds> limit) {
  json last;
  auto r = impl_->stream(
      protocol::Command::kWatch, {{"id", id}}, limit, [] {},
      [&](const Reply& m) -> std::optional<json> {
        if (m.kind != protocol::kState && m.kind != protocol::kEnd) return std::nullopt;
        if (!m.body.value("array", false)) {
          if (m.kind == protocol::kEnd) return m.body;  // a job, not an array
          return std::nullopt;
        }
        last = m.body;
        if (on_progress) on_progress(m.body);
        if (m.kind == protocol::kEnd) return m.body;
        return std::nullopt;
      });
  if (!r && r.error() == "time limit") {
    const auto ended =
        last.value("completed", 0) + last.value("failed", 0) + last.value("stopped", 0);
    return std::unexpected("job array " + id + " has " + std::to_string(ended) + " of " +
                           std::to_string(last.value("tasks", 0)) +
                           " tasks ended after the wait timeout; it goes on (shoal job wait " + id +
                           ")");
  }
  return r;
}

std::expected<void, std::string> Client::wait_all(
    const std::vector<std::string>& ids, const std::function<void(const json& job)>& on_end) {
  std::set<std::string> pending(ids.begin(), ids.end());
  auto& impl = *impl_;
  // Several watch streams share the socket: their messages carry the id.
  auto send_all = [&] {
    for (const auto& id : pending) impl.conn->send(protocol::Command::kWatch, {{"id", id}});
  };
  if (auto r = impl.ensure_open(); !r) return std::unexpected(r.error());
  // Left before every job ended (interrupted, an error, an exception from
  // on_end): the other watches go with the socket, or their messages would
  // be taken for the answers to later requests.
  struct DropUnlessDone {
    Impl& impl;
    const std::set<std::string>& pending;
    ~DropUnlessDone() {
      if (!pending.empty()) impl.conn.reset();
    }
  } drop{impl, pending};
  send_all();
  int failures = 0;
  bool ping_sent = false;
  while (!pending.empty()) {
    auto r = impl.conn->next(impl.options.timeout);
    if (!r) {
      if (!impl.conn->timed_out()) return std::unexpected(r.error());
      if (!ping_sent) {
        impl.conn->send(protocol::Command::kPing, json::object());
        ping_sent = true;
        continue;
      }
      if (++failures > impl.options.retries)
        return std::unexpected("the broker stopped answering (" + impl.dir.root + "; see " +
                               impl.dir.log_file + ")");
      if (auto o = impl.reopen(); !o) return std::unexpected(o.error());
      ping_sent = false;
      send_all();
      continue;
    }
    failures = 0;
    if (r->kind == protocol::kOk) {
      ping_sent = false;
      continue;
    }
    if (r->kind == protocol::kError)
      return std::unexpected(r->body.is_object() ? r->body.value("error", "unknown error")
                                                 : "unknown error");
    if (r->kind != protocol::kEnd || !pending.erase(r->body.value("id", ""))) continue;
    on_end(r->body);
  }
  return {};
}

std::expected<json, std::string> Client::logs(const std::string& id, Stream stream, bool follow,
                                              const ChunkHandler& on_chunk,
                                              const std::string& execution, LogsFrom from) {
  const char* name = stream == Stream::stdout_only   ? "stdout"
                     : stream == Stream::stderr_only ? "stderr"
                                                     : "all";
  // Bytes delivered per execution and stream, and after a reconnect how
  // many of the replayed bytes to skip.
  std::map<std::pair<uint64_t, std::string>, uint64_t> delivered, skip;
  json body = {{"id", id}, {"stream", name}, {"follow", follow}};
  if (!execution.empty()) body["execution"] = execution;
  if (from == LogsFrom::now) body["from_now"] = true;
  return impl_->stream(
      protocol::Command::kLogs, body, std::nullopt, [&] { skip = delivered; },
      [&](const Reply& m) -> std::optional<json> {
        if (m.kind != protocol::kLog) return m.body;
        if (m.frames.empty()) return std::nullopt;
        std::string s = m.body.value("stream", "stdout");
        std::pair<uint64_t, std::string> key{m.body.value("attempt", uint64_t{0}), s};
        std::string data = m.frames[0];
        uint64_t& k = skip[key];
        if (k > 0) {
          size_t n = std::min<uint64_t>(k, data.size());
          data.erase(0, n);
          k -= n;
        }
        if (data.empty()) return std::nullopt;
        delivered[key] += data.size();
        on_chunk(s, data);
        return std::nullopt;
      });
}

std::expected<std::string, std::string> Client::output(const std::string& id,
                                                       const std::string& name,
                                                       const std::string& path) {
  // In parts: the broker sends at most a few MiB per reply (docs/protocol.md).
  std::string bytes;
  for (;;) {
    auto r = impl_->call(protocol::Command::kOutput,
                         {{"id", id},
                          {"name", name},
                          {"path", path},
                          {"offset", bytes.size()},
                          {"length", protocol::kOutputPart}},
                         {}, true);
    if (!r) return std::unexpected(r.error());
    if (r->frames.empty())
      return std::unexpected("output " + name + "/" + path + ": the broker sent no bytes");
    const uint64_t size = r->body.value("size", uint64_t{0});
    if (bytes.empty() && r->frames[0].size() >= size) return std::move(r->frames[0]);
    if (r->frames[0].empty())
      return std::unexpected("output " + name + "/" + path + ": the broker sent " +
                             std::to_string(bytes.size()) + " of its " + std::to_string(size) +
                             " bytes, then none");
    if (bytes.empty()) bytes.reserve(size);
    bytes += r->frames[0];
    if (bytes.size() >= size) return bytes;
  }
}

namespace {

std::string already_there(const std::filesystem::path& file) {
  return file.string() +
         " already exists: results never replace a file; write them to a new or empty directory";
}

// A new file (never one that exists, nor through a symlink) with `data`.
std::expected<void, std::string> write_file(const std::filesystem::path& file,
                                            const std::string& data) {
  std::ofstream out(file, std::ios::binary | std::ios::noreplace);
  if (!out.is_open()) {
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::symlink_status(file, ec)))
      return std::unexpected(already_there(file));
    return std::unexpected("cannot write " + file.string());
  }
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) return std::unexpected("cannot write " + file.string());
  return {};
}

// Where each of a job's results goes under `dir`: stdout, stderr, exitCode
// (when the job has an exit code), then the output files; an error for an
// output path that would climb out of `dir`.
struct ResultFile {
  std::filesystem::path file;
  std::string name, path;  // an output file's; empty for the three above
};
std::expected<std::vector<ResultFile>, std::string> result_files(const json& job,
                                                                 const std::filesystem::path& dir) {
  std::vector<ResultFile> out{{dir / "stdout", "", ""}, {dir / "stderr", "", ""}};
  if (!job.value("exit_code", json()).is_null()) out.push_back({dir / "exitCode", "", ""});
  for (const auto& f : job.value("output_files", json::array())) {
    std::string name = f.value("name", ""), path = f.value("path", "");
    // Paths come from the store; refuse any that would climb out of `dir`.
    std::filesystem::path rel = (std::filesystem::path(name) / path).lexically_normal();
    if (name.empty() || rel.is_absolute() || rel.string().starts_with(".."))
      return std::unexpected("output " + name + "/" + path +
                             ": not a path inside the job's outputs");
    out.push_back({dir / rel, name, path});
  }
  return out;
}

// An error naming the first of `files` that exists (a symlink too).
std::expected<void, std::string> none_there(const std::vector<ResultFile>& files) {
  std::error_code ec;
  for (const auto& f : files)
    if (std::filesystem::exists(std::filesystem::symlink_status(f.file, ec)))
      return std::unexpected(already_there(f.file));
  return {};
}

}  // namespace

std::expected<void, std::string> results_fit(const json& job, const std::filesystem::path& dir) {
  auto files = result_files(job, dir);
  if (!files) return std::unexpected(files.error());
  return none_there(*files);
}

std::expected<std::vector<std::filesystem::path>, std::string> Client::fetch_outputs(
    const std::string& id, const std::filesystem::path& dir) {
  auto job = describe(id);
  if (!job) return std::unexpected(job.error());
  std::string full = (*job)["id"];
  std::string out, err;
  auto end = logs(full, Stream::all, false, [&](const std::string& stream, const std::string& d) {
    (stream == "stderr" ? err : out) += d;
  });
  if (!end) return std::unexpected(end.error());
  auto files = result_files(*end, dir);
  if (!files) return std::unexpected(files.error());
  if (auto fit = none_there(*files); !fit) return std::unexpected(fit.error());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return std::unexpected(dir.string() + ": " + ec.message());
  std::vector<std::filesystem::path> written;
  for (const auto& f : *files) {
    std::string bytes;
    if (f.name.empty()) {
      const std::string leaf = f.file.filename().string();
      bytes = leaf == "stdout" ? out : leaf == "stderr" ? err : (*end)["exit_code"].dump();
    } else {
      auto got = output(full, f.name, f.path);
      if (!got) return std::unexpected(got.error());
      bytes = std::move(*got);
      std::filesystem::create_directories(f.file.parent_path(), ec);
      if (ec) return std::unexpected(f.file.parent_path().string() + ": " + ec.message());
    }
    if (auto w = write_file(f.file, bytes); !w) return std::unexpected(w.error());
    written.push_back(f.file);
  }
  return written;
}

std::expected<json, std::string> Client::stop(const std::string& id, const std::string& reason) {
  json body = {{"id", id}};
  if (!reason.empty()) body["reason"] = reason;
  auto r = impl_->call(protocol::Command::kStop, body, {}, true);
  if (!r) return std::unexpected(r.error());
  return r->body;
}

std::expected<json, std::string> Client::rerun(const std::string& id, const std::string& reason) {
  json body = {{"id", id}};
  if (!reason.empty()) body["reason"] = reason;
  auto r = impl_->call(protocol::Command::kRerun, body, {}, false);
  if (!r) return std::unexpected(r.error());
  return r->body;
}

std::expected<std::string, std::string> Client::remove(const std::string& id) {
  auto r = impl_->call(protocol::Command::kDelete, {{"id", id}}, {}, false);
  if (!r) return std::unexpected(r.error());
  return r->body.value("id", id);
}

std::expected<uint64_t, std::string> Client::prune(std::chrono::seconds older_than) {
  auto r = impl_->call(protocol::Command::kPrune, {{"older_than_s", older_than.count()}}, {}, true);
  if (!r) return std::unexpected(r.error());
  return r->body.value("deleted", uint64_t{0});
}

std::expected<std::vector<json>, std::string> Client::nodes() {
  auto r = impl_->call(protocol::Command::kNodes, json::object(), {}, true);
  if (!r) return std::unexpected(r.error());
  const json& nodes = r->body.value("nodes", json::array());
  if (!nodes.is_array()) return std::unexpected("the broker's nodes reply holds no list");
  return std::vector<json>(nodes.begin(), nodes.end());
}

std::expected<json, std::string> Client::metrics() {
  auto r = impl_->call(protocol::Command::kMetrics, json::object(), {}, true);
  if (!r) return std::unexpected(r.error());
  if (!r->body.is_object() || !r->body.contains("start_ns"))
    return std::unexpected("the broker's metrics reply holds no buckets");
  return std::move(r->body);
}

std::expected<void, std::string> Client::shutdown() {
  auto r = impl_->call(protocol::Command::kShutdown, json::object(), {}, false);
  if (!r) return std::unexpected(r.error());
  impl_->conn.reset();
  // A local broker has exited once it lets go of its lock (it first stops
  // its workers): return only then, so that what follows finds no broker.
  const char* remote = std::getenv("SHOAL_CONNECT");
  if (!impl_->options.state_dir.empty() || !remote || !*remote) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (host::broker_running(impl_->dir)) {
      if (std::chrono::steady_clock::now() > deadline)
        return std::unexpected("the broker for " + impl_->dir.root +
                               " was asked to stop but still runs after 30 s; see " +
                               impl_->dir.log_file);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return {};
}

}  // namespace shoal::client
