// The broker's internals, shared by broker.cpp (the loop, workers,
// dispatch), client_commands.cpp (requests), staging.cpp (inputs) and
// outputs.cpp (collecting output files). Single-threaded: everything runs on
// the loop's thread except URL fetches, which report back through a socket.
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <deque>
#include <expected>
#include <list>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "broker/broker.h"
#include "broker/committer.h"
#include "broker/connection_cap.h"
#include "broker/input_access.h"
#include "broker/reaper.h"
#include "broker/recent_hashes.h"
#include "broker/store.h"
#include "broker/zap.h"
#include "host/worker_pool.h"
#include "protocol/job.h"
#include "protocol/worker_protocol.h"

#include <atomic>
#include <thread>

namespace shoal::host {
class UrlCache;
}

namespace shoal::broker {

using Clock = std::chrono::steady_clock;

struct WorkerState {
  std::string name;
  bool ready = false;
  std::string exec_id;  // running, or empty when idle
  std::string job_id;
  Clock::time_point last_seen;
  // Remote workers (broker/remote_run.cpp, docs/remote.md).
  bool remote = false;
  std::string host;  // "local" for the broker's own pool
  std::map<std::string, std::string> labels;
  std::string killed_because;  // set when the broker killed it, for the job's message
  bool scratch_ready = false;  // a local worker's scratch directory exists and is empty
  // Hashes of the modules sent to this local worker, which it keeps
  // (worker/module_memo.h): later runs name them. At most kWorkerModules;
  // a worker that has dropped one asks for it (kNeed).
  std::set<std::string> modules;
  // For the backstop behind the worker's own timeout and stop
  // (Broker::enforce_limits): the run heartbeat() last saw on it, since
  // when, and since when a stop of that run has gone unanswered.
  std::string watched_exec;
  Clock::time_point watched_since;
  std::optional<Clock::time_point> stop_since;
};
inline constexpr size_t kWorkerModules = 32;

// Output collection's bounds (outputs.cpp): a file's path inside its output
// directory (Linux's PATH_MAX: nothing longer could be written back out by
// path), and the entries of any kind one collection looks at.
inline constexpr size_t kMaxOutputPath = 4096;
inline constexpr uint64_t kMaxOutputEntries = 100000;

// A `logs` request reads about this much of the store per slice.
inline constexpr uint64_t kLogSlice = 1ull << 20;

// How long a worker may take past a run's --timeout, and after a stop
// request, before the broker ends the run itself (Broker::enforce_limits).
// A remote worker's run also writes its input files before the guest
// starts and sends its output files back after it ends, within the run's
// time as the broker sees it: it gets longer.
inline constexpr std::chrono::seconds kTimeoutGrace{5};
inline constexpr std::chrono::seconds kStopGrace{5};
inline constexpr std::chrono::seconds kRemoteGrace{60};

// A client waiting on a job: following its logs, or watching its state.
struct Follower {
  std::string identity;
  bool logs = false;    // stream log chunks
  int stream_mask = 3;  // 1 stdout, 2 stderr
  bool states = false;  // stream state changes
};

// A reply to send once the current batch is committed.
struct Outgoing {
  std::string identity;
  std::string kind;
  nlohmann::json body;
  std::vector<std::string> frames;
  // A job's `state` or `end`: the job's id, and its JSON already written
  // (jobs::to_json_text), sent instead of `body`.
  std::string job_id;
  std::string text;
  // The job a `state` or `end` message is about, or "".
  std::string about() const;
};

// A `logs` request answered from the store a slice at a time
// (client_commands.cpp): the next slice is read only once the client has
// taken the last one (it has no backlog), so that a large log never sits
// whole in the broker's memory, however many clients ask for it.
struct LogReader {
  std::string identity;
  std::string job_id;
  uint32_t attempt = 0;  // the latest execution's, when asked
  int mask = 3;          // 1 stdout, 2 stderr
  bool follow = false;
  uint64_t after_seq = 0;  // the last chunk sent
};

// Replies a client has not taken yet, beyond what its ZeroMQ queue holds.
struct Backlog {
  std::deque<Outgoing> queue;
  uint64_t bytes = 0;
  uint64_t logs_dropped = 0;  // log bytes dropped while over the cap
  uint64_t peak = 0;          // the most bytes it held
};

class Broker {
 public:
  Broker(const BrokerOptions& options, std::unique_ptr<Store> store,
         std::shared_ptr<spdlog::logger> log);
  int run();

 private:
  // broker.cpp
  void recover();
  void ensure_workers();
  void on_worker_message(std::vector<zmq::message_t>& parts);
  void on_worker_done(WorkerState& w, const std::string& body);
  void on_worker_lost(const std::string& name, const std::string& cause);
  void heartbeat();
  // The backstop behind the worker's own --timeout and stop, which V8's
  // TerminateExecution makes effective only while guest code runs: a run
  // still going kTimeoutGrace past its timeout, or kStopGrace after a stop
  // request reached its worker (kRemoteGrace for either on a remote
  // worker), has a main thread stuck elsewhere (a
  // blocked system call, a long host function, a compile). Its job ends
  // now, Failed as timed out (the worker's own wording) or Stopped, and is
  // not re-queued; a local worker is killed (and replaced, reap()), a
  // remote one forgotten and told `bye`. Called by heartbeat() with its
  // time; runs count from the first round that saw them, at most one
  // heartbeat after dispatch.
  void enforce_limits(Clock::time_point now);
  void dispatch();
  // Group commit (see docs/architecture.md): the batch and the replies
  // that wait on it go to the committer when it is free; a finished commit
  // sends its replies, or turns them into errors when it failed. flush()
  // waits until everything so far is committed and replied to (requests
  // that read the store).
  void start_commit();
  void finish_commit(Committer::Result r);
  void flush();
  // Sends or queues one reply, never blocking; see broker.cpp.
  void post(Outgoing o);
  enum class Delivery { sent, full, gone };
  Delivery deliver(const Outgoing& o);
  void drain_backlogs();
  void forget_client(const std::string& identity);
  // Sends the next slice of each log reader whose client keeps up; one
  // that reached the end is finished (end, or a follower).
  void pump_log_readers();
  // Sends `reader`'s next slice; true when the log is done and the reader finished.
  bool pump(LogReader& reader);
  void finish_execution(jobs::Job& job, jobs::JobState state, std::optional<int32_t> exit_code,
                        const std::string& message);
  void set_state(jobs::Job& job, jobs::JobState state, const std::string& message);
  void event(jobs::Job& job, const std::string& topic, const std::string& message);
  void save(jobs::Job& job);
  void notify(const jobs::Job& job);
  void send_to_worker(const std::string& name, std::string_view type, const std::string& body);

  // client_commands.cpp
  void on_client_message(std::vector<zmq::message_t>& parts);
  void reply(const std::string& identity, std::string_view kind, nlohmann::json body,
             std::vector<std::string> frames = {});
  void reply_error(const std::string& identity, const std::string& message);
  std::optional<jobs::Job> find_job(const std::string& identity, const nlohmann::json& body);
  void cmd_submit(const std::string& id, const nlohmann::json& body,
                  std::vector<zmq::message_t>& parts);
  void cmd_get(const std::string& id, const nlohmann::json& body);
  void cmd_list(const std::string& id, const nlohmann::json& body);
  void cmd_logs(const std::string& id, const nlohmann::json& body);
  void cmd_watch(const std::string& id, const nlohmann::json& body);
  void cmd_stop(const std::string& id, const nlohmann::json& body);
  void cmd_delete(const std::string& id, const nlohmann::json& body);
  void cmd_prune(const std::string& id, const nlohmann::json& body);
  void cmd_output(const std::string& id, const nlohmann::json& body);

  // outputs.cpp: moves the execution's output files into the batch, at
  // most the caps (files, bytes; the walk itself stops after
  // kMaxOutputEntries entries), without following links or entering a
  // directory whose path inside its output is over kMaxOutputPath bytes;
  // what it leaves is said in job.outputs_message and an event. True when
  // it found scratch/out holding the empty default output directory and
  // nothing else (the program wrote no file).
  bool collect_outputs(jobs::Job& job, const std::string& scratch);
  // A blob of the store, or of a batch not committed yet (a job may be
  // dispatched before the commit that stores its module).
  std::expected<std::optional<std::string>, std::string> get_blob(const std::string& hash);
  // The bytes of a blob in the batch or the commit under way, or null.
  const std::string* pending_blob(const std::string& hash) const;
  // Whether a job of the batch may refer to the blob: the store or the
  // batch has it. One that only the commit under way holds is copied into
  // the batch, which must not depend on that commit succeeding.
  bool blob_known(const std::string& hash);
  // Scratch directories (scratch.cpp): the directory an execution of `exec_id`
  // on `w` uses; made ready (out/outputs exists, nothing else) before a run;
  // emptied (or removed) after one; all removed at start. `untouched`:
  // collect_outputs found the output directories as prepared and the run
  // put no file of its own (stdin, import modules, inline inputs) there, so
  // nothing needs looking at.
  std::string scratch_of(const WorkerState& w, const std::string& exec_id) const;
  void prepare_scratch(WorkerState& w, const std::string& scratch);
  void clear_scratch(WorkerState& w, const std::string& scratch, bool untouched = false);
  void clear_all_scratch();
  // Hands `path` to the reaper (or, when it cannot be moved, removes it here).
  void discard(const std::string& path);

  // listen.cpp: what clients may do: the inputs they may name
  // (input_access_), the connections each socket keeps (connection_cap_),
  // and when asked the TCP endpoints with CURVE; then the serve
  // configuration is stored if asked.
  // False when any of it cannot be set up (logged).
  bool listen_remote();

  // scheduling.cpp: the idle worker for a job (constraints, free slots per
  // host), or null; records on the job why none matches.
  WorkerState* pick_worker(jobs::Job& job);

  // remote_run.cpp: remote workers joining, their runs and results.
  void on_remote_ready(const std::string& name, const wire::Ready& ready);
  // Turns a run built for a local worker into one a remote host can do:
  // input and stdin bytes inside. An error (unreadable input, over the cap)
  // fails the job with that message.
  std::expected<void, std::string> make_remote(wire::Run& run, const std::string& scratch);
  // Whether `w` was sent the module `hash` before (a remote worker: its
  // host, which keeps modules on disk), so that a run may name it by hash;
  // and the record that it is being sent now. Either may be wrong (a
  // worker drops modules for room): the worker then asks (kNeed).
  bool sent_module(const WorkerState& w, const std::string& hash) const;
  void record_module(WorkerState& w, const std::string& hash);
  void on_need_module(WorkerState& w, const std::string& exec_id);
  // Writes a remote run's output files into `scratch`/out for collect_outputs.
  void unpack_outputs(const wire::Done& done, const std::string& scratch, jobs::Job& job);

  // staging.cpp: URL inputs.
  void stage(jobs::Job& job);
  void on_staged(std::vector<zmq::message_t>& parts);
  std::string input_host_path(const jobs::Job& job, const jobs::InputSpec& in);

  BrokerOptions opt_;
  std::unique_ptr<Store> store_;
  std::shared_ptr<spdlog::logger> log_;
  zmq::context_t ctx_;
  zmq::socket_t clients_;
  zmq::socket_t workers_sock_;
  zmq::socket_t staged_;  // PULL: fetch threads report here
  host::WorkerPool pool_;
  std::map<std::string, WorkerState> workers_;
  int next_worker_ = 1;
  Batch batch_;
  std::unique_ptr<Committer> committer_;
  std::vector<Outgoing> committing_;  // replies waiting on the commit under way
  RecentHashes recent_modules_;       // the SHA-256 of modules submitted lately
  std::vector<Outgoing> outgoing_;
  std::map<std::string, Backlog> backlogs_;  // by client identity
  uint64_t backlog_bytes_ = 0;               // held in all backlogs together
  std::list<LogReader> log_readers_;
  std::map<std::string, jobs::Job> active_;  // unfinished jobs, by id
  std::deque<std::string> queue_;            // queued job ids, in order
  std::set<std::string> stop_requested_;
  std::multimap<std::string, Follower> followers_;                          // by job id
  std::map<std::string, std::map<std::string, std::string>> staged_paths_;  // job -> url -> file
  Clock::time_point last_activity_;
  Clock::time_point last_beat_;  // the last heartbeat() round
  Clock::time_point last_trim_;  // memory last given back to the system (malloc_trim)
  bool shutting_down_ = false;
  std::unique_ptr<host::UrlCache> urls_;
  std::atomic<bool> stopping_{false};  // cancels fetches at shutdown
  // URL fetch threads; each sets its flag as its last act, and the loop
  // joins the finished ones (a finished thread keeps its stack until joined).
  struct Fetcher {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Fetcher> fetchers_;
  void join_finished_fetchers();
  std::unique_ptr<Reaper> reaper_;   // removes scratch trees off the loop (scratch.cpp)
  std::unique_ptr<ZapHandler> zap_;  // with TCP endpoints only
  std::unique_ptr<ConnectionCap> connection_cap_;              // set by listen_remote()
  std::optional<InputAccess> input_access_;                    // set by listen_remote()
  std::map<std::string, std::set<std::string>> host_modules_;  // host -> module hashes sent
  std::set<std::string> unmatched_;  // queued jobs no connected worker matches (said once)

 public:
  ~Broker();
};

}  // namespace shoal::broker
