// The broker's loop and its glue, shared by broker.cpp (the poll loop),
// workers.cpp (workers and dispatch), commits.cpp (group commit),
// client_commands.cpp (requests), staging.cpp (URL inputs), outputs.cpp
// (collecting output files), scratch.cpp, listen.cpp and remote_run.cpp. The
// parts it glues are headers of their own that include nothing of this one:
// job_table.h (the jobs, pure state), run_builder.h, replies.h,
// module_holders.h. Single-threaded: everything runs on the loop's thread
// except URL fetches, which report back through a socket.
#pragma once

#include <spdlog/logger.h>

#include <algorithm>
#include <array>
#include <atomic>
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
#include <thread>
#include <unordered_set>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "broker/array_progress.h"
#include "broker/broker.h"
#include "broker/committer.h"
#include "broker/connection_cap.h"
#include "broker/input_access.h"
#include "broker/job_table.h"
#include "broker/metrics.h"
#include "broker/module_holders.h"
#include "broker/provision/provisioner.h"
#include "broker/reaper.h"
#include "broker/recent_hashes.h"
#include "broker/replies.h"
#include "broker/run_builder.h"
#include "broker/store.h"
#include "broker/zap.h"
#include "host/worker_pool.h"
#include "protocol/array.h"
#include "protocol/client_protocol.h"
#include "protocol/job.h"
#include "protocol/worker_protocol.h"

namespace shoal::host {
class UrlCache;
}

namespace shoal::broker {

// A run handed to a worker and not ended yet. `slot` names its scratch
// directory among the worker's (scratch_of): the runs a worker holds at
// once each have their own.
struct InHand {
  std::string exec_id, job_id;
  size_t slot = 0;
};

// Batching (workers.cpp, docs/protocol.md): at most this many runs in a
// local worker's hands, and only of a module whose last run there took
// under kShortRunUs; and, by that run's time, about kBatchUs of work.
inline constexpr size_t kMaxInHand = 16;
inline constexpr uint64_t kShortRunUs = 2000;
inline constexpr uint64_t kBatchUs = 4000;

// A worker, local (the broker's own pool) or remote, as the loop keeps it.
struct WorkerState {
  std::string name;
  bool ready = false;
  // The runs it holds, in the order it runs them: the first is under way
  // (or about to be); empty when idle. A remote worker holds one at most.
  std::deque<InHand> runs;
  std::vector<wire::Run> outbox;      // built by dispatch(), sent when it ends
  std::string module;                 // the module of its latest run
  uint64_t last_run_us = UINT64_MAX;  // how long its latest run of `module` took
  Clock::time_point last_seen;
  // Remote workers (broker/remote_run.cpp, docs/remote.md).
  bool remote = false;
  std::string host;  // "local" for the broker's own pool
  std::map<std::string, std::string> labels;
  std::string killed_because;  // set when the broker killed it, for the job's message
  // A local worker's scratch directory of each slot exists and is empty.
  std::vector<bool> scratch_ready;
  RunPlace place() const { return {name, host, remote, pilot_place()}; }
  // Where a run on this worker happens when it is a pilot's (pilots.cpp):
  // "Slurm job 42 on node n1, pilot p1a2b3c4"; else empty.
  std::string pilot_place() const;
  bool idle() const { return runs.empty(); }
  // The run `exec_id` among those it holds, or end().
  std::deque<InHand>::iterator find_run(const std::string& exec_id) {
    return std::find_if(runs.begin(), runs.end(),
                        [&](const InHand& r) { return r.exec_id == exec_id; });
  }
};

// Output collection's bounds (outputs.cpp): a file's path inside its output
// directory (Linux's PATH_MAX: nothing longer could be written back out by
// path), and the entries of any kind one collection looks at.
inline constexpr size_t kMaxOutputPath = 4096;
inline constexpr uint64_t kMaxOutputEntries = 100000;

// URL fetches under way at once (staging.cpp).
inline constexpr size_t kMaxFetches = 16;

// A `logs` request reads about this much of the store per slice.
inline constexpr uint64_t kLogSlice = 1ull << 20;

// A client waiting on a job: following its logs, or watching its state.
struct Follower {
  std::string identity;
  bool logs = false;    // stream log chunks
  int stream_mask = 3;  // 1 stdout, 2 stderr
  bool states = false;  // stream state changes
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

// A submission's frames after its JSON body, named (client_commands.cpp).
struct SubmitFrames;

// The broker: its loop and the glue between its sockets and its parts (the
// job table, the run builder, the replies, the module holders). Its methods
// are grouped by file below.
class Broker : private JobObserver {
 public:
  Broker(const BrokerOptions& options, std::unique_ptr<Store> store,
         std::shared_ptr<spdlog::logger> log);
  ~Broker() override;
  int run();

 private:
  // broker.cpp: the loop. start() binds the sockets, fences the previous
  // broker's workers and recovers its jobs; turn() is one round of the loop.
  bool start();
  void turn();
  // Reads every readable socket until it is empty, handing each message on.
  void read_sockets(const bool readable[3]);
  void send_to_worker(const std::string& name, std::string_view type, const std::string& body);

  // workers.cpp: the workers, their messages and liveness, and dispatch.
  void ensure_workers();
  void on_worker_message(std::vector<zmq::message_t>& parts);
  void on_worker_log(WorkerState& w, const wire::Log& log);
  void on_worker_done(WorkerState& w, const wire::Done& done);
  // A `dones` message: its output, then its ends.
  void on_worker_dones(WorkerState& w, const zmq::message_t& body);
  void on_worker_lost(const std::string& name, const std::string& cause);
  void heartbeat();
  // The runs the job table's backstop ended (JobTable::end_overdue): a
  // local worker is killed (and replaced, reap()), a remote one forgotten
  // and told `bye`.
  void end_overdue_runs();
  // Hands queued jobs to workers (JobTable::dispatch), then sends each
  // worker what it was handed in one message: `run`, or `runs`.
  void dispatch();
  // How many more runs `w` may be handed as a batch (WorkerView::spare).
  size_t spare_slots(const WorkerState& w) const;
  // Puts `job` on `w`: builds its run into w.outbox, or fails the job.
  bool start_run(jobs::Job& job, WorkerState& w);

  // commits.cpp: group commit (see docs/architecture.md). Every change of a
  // job goes into the batch (changed()); the batch and the replies that wait
  // on it go to the committer when it is free; a finished commit sends its
  // replies, or turns the acknowledgements in it into errors when it
  // failed. flush() waits until everything so far is committed and replied
  // to (requests that read the store).
  void changed(const jobs::Job& job, bool tell) override;
  void notify(const jobs::Job& job);
  void recover();
  void start_commit();
  // The records of the unfinished jobs changed since the last commit
  // started (unsaved_), in their state now, into the batch.
  void save_unsaved();
  void finish_commit(Committer::Result r);
  void flush();
  // A blob of the store, or of a batch not committed yet (a job may be
  // dispatched before the commit that stores its module).
  std::expected<std::optional<std::string>, std::string> get_blob(const std::string& hash);
  // The bytes of a blob in the batch or the commit under way, or null.
  const std::string* pending_blob(const std::string& hash) const;
  // Whether a job of the batch may refer to the blob: the store or the
  // batch has it. One that only the commit under way holds is copied into
  // the batch, which must not depend on that commit succeeding.
  bool blob_known(const std::string& hash);

  // client_commands.cpp: the client protocol, one handler per command of
  // protocol::kCommands; the checks every command shares are made once,
  // before its handler (on_client_message).
  struct Request {
    const std::string& identity;
    const nlohmann::json& body;
    std::vector<zmq::message_t>& parts;
    std::optional<jobs::Job> job;  // found, when the command needs one
    // Or, for a command that takes arrays, the array its "id" names.
    std::optional<std::string> array;
  };
  using Handler = void (Broker::*)(Request&);
  static const std::array<Handler, protocol::kCommands.size()> kHandlers;
  void on_client_message(std::vector<zmq::message_t>& parts);
  void reply(const std::string& identity, std::string_view kind, nlohmann::json body,
             std::vector<std::string> frames = {});
  void reply_error(const std::string& identity, const std::string& message);
  // A `state` or `end` message about `job`.
  void reply_about(const std::string& identity, std::string_view kind, const jobs::Job& job);
  std::optional<jobs::Job> find_job(const std::string& identity, const nlohmann::json& body);
  void cmd_ping(Request& r);
  void cmd_submit(Request& r);
  void cmd_get(Request& r);
  void cmd_list(Request& r);
  void cmd_logs(Request& r);
  void cmd_watch(Request& r);
  void cmd_stop(Request& r);
  void cmd_delete(Request& r);
  void cmd_prune(Request& r);
  void cmd_output(Request& r);
  void cmd_shutdown(Request& r);
  void cmd_nodes(Request& r);    // nodes.cpp: the worker pools
  void cmd_metrics(Request& r);  // nodes.cpp: the last hour (metrics_)
  // Samples the jobs waiting and running and each pool's busy slots into
  // metrics_ (nodes.cpp); about once a second, from the loop.
  void sample_metrics();
  void cmd_rerun(Request& r);
  // The error that refuses a submission's frames (sizes, wasm magic), if any.
  std::optional<std::string> refuse_frames(const SubmitFrames& frames, const jobs::JobSpec& spec);
  // Keeps a submitted blob in the batch (unless stored); returns its hash.
  std::string keep_blob(const zmq::message_t& frame, bool recurs);
  // The blobs of a submission kept, their hashes and sizes set in `spec`;
  // the error when module_sha256 does not match the module's bytes.
  std::optional<std::string> keep_blobs(const SubmitFrames& frames, const std::string& named,
                                        jobs::JobSpec& spec);
  // Puts the host paths of `spec`'s local inputs through input_access_;
  // the error names the input.
  std::optional<std::string> check_inputs(const Origin& origin, jobs::JobSpec& spec);
  // Adds the jobs of a submission (one, or an array's tasks) to the table
  // and acknowledges them, once durable, with one `ok`.
  void submit_jobs(Request& r, const std::string& id, std::vector<jobs::Job> jobs, bool array);

  // arrays.cpp: job arrays (protocol/array.h). A submission's jobs: the
  // one job, or each task of its array (their ids "ID-INDEX").
  std::expected<std::vector<jobs::Job>, std::string> submitted_jobs(
      const jobs::JobSpec& spec, const std::optional<jobs::ArraySpec>& array,
      const std::string& id);
  // The array that `typed` (an id or a unique prefix of one) names, or
  // nothing when it names a job, several things, or nothing.
  std::optional<std::string> find_array(const std::string& typed);
  // arrays_[id], from the store when the broker does not follow it
  // (after a restart); an error when the store cannot be read.
  std::expected<ArrayProgress*, std::string> array_progress(const std::string& id);
  // `watch` and `stop` of an array.
  void watch_array(Request& r);
  void stop_array(Request& r, const std::string& reason);
  // Tells the worker running job `id`, if any, to stop it.
  void stop_on_worker(const std::string& id);
  // Before each commit: a `state` (or, once every task ended, an `end`)
  // with the summary of each array that changed, to the clients watching
  // it; a finished array is then forgotten.
  void send_array_progress();
  // A task whose submission could not be stored; returns its array's id ("" for a job).
  std::string forget_array_task(const std::string& id);
  // Forgets a client that is gone: its backlog, log readers and follows.
  void forget_client(const std::string& identity);
  // Sends the next slice of each log reader whose client keeps up; one
  // that reached the end is finished (end, or a follower).
  void pump_log_readers();
  // Sends `reader`'s next slice; true when the log is done and the reader finished.
  bool pump(LogReader& reader);
  // pump(): the chunks after the reader's last, about a slice; true when
  // that was all the store holds, nullopt after an error (replied).
  std::optional<bool> send_log_slice(LogReader& reader);
  // Once `reader` has had every stored chunk (or was asked for none, logs
  // "from_now"): the job's end, or, when it follows a job not yet ended,
  // the live chunks from now on.
  void end_or_follow(const LogReader& reader);

  // outputs.cpp: moves the execution's output files into the batch, at
  // most the caps (files, bytes; the walk itself stops after
  // kMaxOutputEntries entries), without following links or entering a
  // directory whose path inside its output is over kMaxOutputPath bytes;
  // what it leaves is said in job.outputs_message and an event. True when
  // it found scratch/out holding the empty default output directory and
  // nothing else (the program wrote no file).
  bool collect_outputs(jobs::Job& job, const std::string& scratch);

  // scratch.cpp: the directory run `r` on `w` uses (a local worker keeps
  // one per slot); made ready (out/outputs exists, nothing else) before a
  // run; emptied (or removed) after one; all removed at start. `untouched`:
  // collect_outputs found the output directories as prepared and the run
  // put no file of its own (stdin, import modules, inline inputs) there, so
  // nothing needs looking at.
  std::string scratch_of(const WorkerState& w, const InHand& r) const;
  void prepare_scratch(WorkerState& w, const InHand& r);
  void clear_scratch(WorkerState& w, const InHand& r, bool untouched = false);
  void clear_all_scratch();
  // Hands `path` to the reaper (or, when it cannot be moved, removes it here).
  void discard(const std::string& path);

  // listen.cpp: what clients may do: the inputs they may name
  // (input_access_), the connections each socket keeps (connection_cap_),
  // and when asked the TCP endpoints with CURVE; then the serve
  // configuration is stored if asked.
  // False when any of it cannot be set up (logged).
  bool listen_remote();

  // pilots.cpp: the provisioner (broker/provision/provisioner.h), when
  // --provider asks for one, started once the TCP endpoints are bound.
  // Every half second the loop hands it the demand (the queued jobs only a
  // new pilot would take, by placement; each pilot's connected workers)
  // and fails the queued jobs of a placement the engine refused. False
  // when it cannot start (logged).
  bool start_provisioner();
  void provision_round();
  // Workers of pilots the engine no longer lists (a pilot ended, its node
  // failed) are told `bye` and their runs re-queued: their keys are revoked.
  void drop_ended_pilots();
  // A pilot's key is authorised for that pilot alone: why a worker's
  // `ready` (its frame carries the key's name, User-Id) is refused when it
  // claims another pilot's label (shoal.pilot), or a pilot's key joins
  // without its own; nullopt when it may join.
  static std::optional<std::string> pilot_key_refuses(const zmq::message_t& frame,
                                                      const wire::Ready& ready);
  // The pilots as nodes, for the `nodes` command: those with connected
  // workers get a "pilot" object; those without are nodes of their own.
  void add_pilot_nodes(nlohmann::json& nodes) const;

  // remote_run.cpp: remote workers joining, the module asked for again,
  // and the output files a remote run sends back.
  void on_remote_ready(const std::string& name, const wire::Ready& ready);
  void on_need_module(WorkerState& w, const std::string& exec_id);
  // Notes what the worker said of its outputs and writes a remote run's
  // output files into `scratch`/out/NAME, each output directory made first,
  // for collect_outputs. False, and nothing made, when no file came back.
  bool unpack_outputs(const wire::Done& done, const std::string& scratch, jobs::Job& job);

  // staging.cpp: URL inputs. Each URL is fetched on a thread of its own,
  // at most kMaxFetches at once (an array of 10,000 URLs must not start
  // 10,000 threads); the rest wait in fetch_queue_, in submission order.
  void stage(jobs::Job& job);
  void start_queued_fetches();
  void start_fetch(const std::string& job_id, const std::string& url);
  void on_staged(std::vector<zmq::message_t>& parts);
  std::string input_host_path(const jobs::Job& job, const jobs::InputSpec& in);
  void join_finished_fetchers();

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
  JobTable jobs_;          // unfinished jobs
  ModuleHolders modules_;  // which worker (or host) holds which module
  RunLimits run_limits_;   // from the options, for every run
  Replies replies_;
  Batch batch_;
  std::unordered_set<std::string> unsaved_;  // unfinished jobs changed, not yet in batch_
  std::unique_ptr<Committer> committer_;
  std::vector<Outgoing> committing_;  // replies waiting on the commit under way
  std::vector<Outgoing> outgoing_;    // replies waiting on the batch being gathered
  RecentHashes recent_modules_;       // the SHA-256 of modules submitted lately
  Metrics metrics_;                   // the last hour, for the dashboard's plots
  std::list<LogReader> log_readers_;
  std::multimap<std::string, Follower> followers_;  // by job id, or array id
  std::map<std::string, ArrayProgress> arrays_;     // arrays with tasks unfinished, by id
  std::map<std::string, std::map<std::string, std::string>> staged_paths_;  // job -> url -> file
  Clock::time_point last_activity_;
  Clock::time_point last_beat_;  // the last heartbeat() round
  Clock::time_point next_beat_;  // when the next one is due
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
  struct QueuedFetch {
    std::string job_id, url;
  };
  std::deque<QueuedFetch> fetch_queue_;
  size_t fetches_running_ = 0;       // started, their result not yet received
  std::unique_ptr<Reaper> reaper_;   // removes scratch trees off the loop (scratch.cpp)
  std::unique_ptr<ZapHandler> zap_;  // with TCP endpoints only
  std::unique_ptr<ConnectionCap> connection_cap_;        // set by listen_remote()
  std::optional<InputAccess> input_access_;              // set by listen_remote()
  std::string worker_tcp_;                               // the worker endpoint bound, if any
  std::unique_ptr<provision::Provisioner> provisioner_;  // with --provider only
  Clock::time_point next_provision_{};
  std::map<std::string, Clock::time_point> pilot_idle_since_;  // by pilot name
  // After a restart, remote workers get no job before this: a worker of
  // the broker that died may still run a recovered job's old execution
  // until it hears the new broker (which tells it `bye`) or gives up on
  // the silent one (3 s).
  Clock::time_point remote_hold_until_{};
};

}  // namespace shoal::broker
