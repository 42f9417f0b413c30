// shoal's C++ client library: submit jobs to a broker, wait for them,
// follow their logs, list, describe, fetch outputs, stop. The `shoal`
// command is built on it; a program links `shoal_client_dep` (Meson) and
// includes only this header.
//
// Every call speaks the client protocol (docs/protocol.md) over one ZeroMQ
// socket. Errors are values: each call returns std::expected with a
// sentence that names the thing and the cause ("no job matches 'j-zz'").
//
// Timeouts and reconnects: a request whose reply does not come within
// Options::timeout is sent again on a fresh socket (a broker that was
// restarted, by hand or by Options::start_broker, answers it), at most
// Options::retries times. Only requests that are safe to repeat are
// repeated: everything but submit and rerun. A submit that got no answer fails with a
// message saying that the job may or may not exist. Waiting and following
// have no overall time limit unless one is given; while they wait they
// check every Options::timeout that the broker still answers, and pick up
// again on a fresh socket when it does not.
//
// Threading: a Client is used by one thread at a time; use one Client per
// thread. Moving is allowed, copying is not.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace shoal::client {

class Connection;

struct Options {
  // The broker's state directory; empty: $SHOAL_HOME, else
  // $XDG_STATE_HOME/shoal, else ~/.local/state/shoal; or, when
  // $SHOAL_CONNECT names a remote broker, that one (docs/remote.md).
  std::string state_dir;
  // Start a broker in the background when none runs (as `shoal` does),
  // with `shoal_binary serve`; empty: this program if it is `shoal`, else
  // the `shoal` on $PATH.
  bool start_broker = true;
  std::string shoal_binary;
  // How long to wait for each reply before trying again.
  std::chrono::milliseconds timeout{10000};
  // How many times a request is sent again after a timeout.
  int retries = 2;
};

// What to run: `spec` is the submit body of docs/protocol.md (name, labels,
// module, entry_point, args, env, inputs, outputs, timeout_s, memory).
struct Submission {
  nlohmann::json spec = nlohmann::json::object();
  std::string module;  // the WebAssembly binary
  // Or, when `module` is empty, the binary held elsewhere (a mapped file,
  // cli/file_bytes.h), valid until submit() returns. It is not copied
  // unless it must be sent.
  std::string_view module_view;
  // The module's SHA-256 when the caller knows it without hashing (a file
  // whose hash it remembered, cli/module_hash_cache.h); computed from
  // the bytes when empty. A wrong one would run another module that the
  // broker has: it must come from these bytes. (The broker checks it
  // against the bytes whenever they are sent.)
  std::string module_sha256;
  std::optional<std::string> stdin_data;  // the program's whole stdin
  // The bytes of spec["import_modules"] and spec["inline_inputs"], in the
  // same order.
  std::vector<std::string> import_modules;
  std::vector<std::string> inline_inputs;
  // A job array (docs/protocol.md, submit: "array"): null for one job, else
  // {"indices": "1-100"} or {"items": [...], "item_target": "/inputs/in.txt"}.
  // submit() then returns the array's id, once every task is stored.
  nlohmann::json array;
};

struct ListQuery {
  size_t limit = 10;  // 0: all
  bool oldest_first = false;
  std::string id_prefix;
  std::map<std::string, std::string> labels;  // a value of "" matches any
  // A label selector, as --constraints takes (env!=dev, !env, env in (a,b)).
  std::string selector;
  std::vector<std::string> states;  // only jobs in one of these ("Running", ...)
  std::string name;                 // only jobs whose name contains this
  // Continue after this cursor (a ListPage::next), in this query's order;
  // empty: from the first job. Opaque: the broker's key of a job.
  std::string after;
  // Only the tasks of this job array (its id or a unique prefix), in index
  // order unless newest first is asked for.
  std::string array;
};

// One page of jobs and the cursor of the next (empty when none is left).
struct ListPage {
  std::vector<nlohmann::json> jobs;
  std::string next;
  std::vector<std::string> skipped;  // damaged records ("KEY: why" each)
};

// Called with each change of a job's state while waiting (the job JSON),
// and with download progress of URL inputs (done, total or 0).
struct WaitCallbacks {
  std::function<void(const nlohmann::json& job)> on_state;
  std::function<void(const std::string& url, uint64_t done, uint64_t total)> on_progress;
};

enum class Stream { all, stdout_only, stderr_only };

// Called with each chunk a program wrote: "stdout" or "stderr", the bytes.
using ChunkHandler = std::function<void(const std::string& stream, const std::string& data)>;

// A file descriptor that, once readable, ends every wait of this process's
// clients for a reply with the error "interrupted"; -1 (the default): none.
// For a SIGINT handler that writes a byte to a pipe: a signal that comes
// between two waits, rather than during one, would otherwise leave the
// next wait blocked. The process-wide setting is read at each wait; a
// connection opened meanwhile fails with "interrupted" too.
void set_interrupt_fd(int fd);

// Whether the results of a job (its JSON: exit_code, output_files) can be
// written under `dir` without replacing anything: an error naming the first
// of stdout, stderr, exitCode and the output files that exists there
// already ("DIR/stdout already exists: results never replace a file; write
// them to a new or empty directory").
std::expected<void, std::string> results_fit(const nlohmann::json& job,
                                             const std::filesystem::path& dir);

class Client {
 public:
  // Connects to the broker (starting it if allowed) and checks it answers.
  static std::expected<Client, std::string> connect(const Options& options = {});

  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

  // Submits a job; returns its id once the broker has stored it.
  std::expected<std::string, std::string> submit(const Submission& job);

  // The job JSON of docs/protocol.md; `id` may be any unique prefix.
  std::expected<nlohmann::json, std::string> describe(const std::string& id);
  // The summary of the job array `id` (its id or a unique prefix) names,
  // as `watch` of an array gives it (docs/protocol.md, `get` with
  // "array"); an error when `id` names a job or nothing.
  std::expected<nlohmann::json, std::string> describe_array(const std::string& id);

  // Jobs, newest first unless asked otherwise. Records the broker found
  // damaged and skipped are named in `skipped` when given ("KEY: why" each,
  // docs/protocol.md `list`).
  std::expected<std::vector<nlohmann::json>, std::string> list(
      const ListQuery& query = {}, std::vector<std::string>* skipped = nullptr);

  // Up to query.limit jobs (0: all) from query.after on, and the cursor
  // where the next page starts. The broker reads a bounded number of
  // records per request (docs/protocol.md `list`), so a filter that few
  // jobs match takes several requests, none of which holds the broker up.
  std::expected<ListPage, std::string> page(const ListQuery& query);

  // Waits until the job ends and returns its final JSON. With `limit`, a job
  // still unfinished by then gives an error "job ID is still STATE after
  // the wait timeout; it goes on (...)".
  std::expected<nlohmann::json, std::string> wait(
      const std::string& id, const WaitCallbacks& callbacks = {},
      std::optional<std::chrono::milliseconds> limit = std::nullopt);

  // Waits for several jobs at once (full ids); calls `on_end` with each
  // one's final JSON as it ends, in the order they end. Left early (an
  // interrupt, an error, an exception from on_end), it drops its socket
  // with the other jobs' watches; the next call opens a fresh one.
  std::expected<void, std::string> wait_all(
      const std::vector<std::string>& ids,
      const std::function<void(const nlohmann::json& job)>& on_end);

  // Waits until every task of the job array `id` (an id or a unique prefix)
  // has ended and returns the array's summary (docs/protocol.md, `watch` of
  // an array: counts by state, the worst exit code, the unsuccessful
  // tasks); `on_progress` gets each summary on the way. With `limit`, an
  // array still unfinished by then gives an error that says how far it got.
  std::expected<nlohmann::json, std::string> wait_array(
      const std::string& id, const std::function<void(const nlohmann::json&)>& on_progress = {},
      std::optional<std::chrono::milliseconds> limit = std::nullopt);

  // The logs of the job's latest execution, chunk by chunk; with `follow`,
  // also what it writes until it ends. Returns the job JSON at the end. An
  // exception that `on_chunk` throws goes through; the stream is dropped
  // with it, and the client works on as before.
  // After a reconnect the bytes already delivered are not repeated. A job
  // that runs again (its worker died, the broker restarted) writes its
  // output again from the start, as a new execution: following it delivers
  // both. With `execution` (an execution's id, or a prefix of only one of
  // the job's), that execution's logs instead; following an execution that
  // is not the latest ends at its last byte. From LogsFrom::now, what was
  // written before the call is skipped (with `follow`, only what comes
  // after; without, nothing); after a reconnect such a stream goes on from
  // the reconnect's now.
  enum class LogsFrom { start, now };
  std::expected<nlohmann::json, std::string> logs(const std::string& id, Stream stream, bool follow,
                                                  const ChunkHandler& on_chunk,
                                                  const std::string& execution = "",
                                                  LogsFrom from = LogsFrom::start);

  // One output file's bytes (an entry of the job JSON's output_files).
  std::expected<std::string, std::string> output(const std::string& id, const std::string& name,
                                                 const std::string& path);

  // Writes stdout, stderr, exitCode and every output file of a finished job
  // under `dir` (as `shoal job get` does); returns the files written. It
  // never replaces a file (nor follows a symlink there): when one of them
  // exists already, nothing is written and the error names it
  // (results_fit). Directories that exist are merged into, as Bacalhau's
  // `job get` does.
  std::expected<std::vector<std::filesystem::path>, std::string> fetch_outputs(
      const std::string& id, const std::filesystem::path& dir);

  // Stops a job: a queued one at once, a running one when its worker has
  // stopped it. `reason`, when given, ends the job's message ("stopped on
  // request: REASON"). Returns the job JSON as the broker answered. For a
  // job array's id, stops every unfinished task: {"id", "array": true,
  // "stopped": N}.
  std::expected<nlohmann::json, std::string> stop(const std::string& id,
                                                  const std::string& reason = "");

  // Runs a job again as a new execution of the same job (Bacalhau's `job
  // rerun`): a finished one is queued again; a running one is stopped and
  // then queued again, never running twice at once. A Pending or Queued
  // job is refused ("cannot rerun job in state Queued: ..."). `reason`,
  // when given, is in its history ("rerun requested: REASON"). Returns the
  // job JSON once the re-run is stored. Not repeated after a timeout: the
  // broker may have done it.
  std::expected<nlohmann::json, std::string> rerun(const std::string& id,
                                                   const std::string& reason = "");

  // Deletes a finished job with its logs and outputs; returns its full id.
  std::expected<std::string, std::string> remove(const std::string& id);

  // Deletes finished jobs last changed more than `older_than` ago.
  std::expected<uint64_t, std::string> prune(std::chrono::seconds older_than);

  // The worker pools the broker runs jobs on, as nodes: the `nodes` reply
  // of docs/protocol.md, one object per pool ("local", then each remote
  // pool by its host).
  std::expected<std::vector<nlohmann::json>, std::string> nodes();

  // The broker's last hour of activity: the `metrics` reply of
  // docs/protocol.md (per 10-second bucket, oldest first).
  std::expected<nlohmann::json, std::string> metrics();

  // Asks the broker to exit (running jobs are re-queued when it next starts);
  // for a local broker, returns once it has exited.
  std::expected<void, std::string> shutdown();

  // The broker's state directory.
  const std::string& state_dir() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::client
