// The broker's unfinished jobs and their executions, as pure state: the
// jobs by id, the queue, stop requests, the state changes, the choice of a
// worker for a queued job, retries (at most max_attempts executions),
// stops, recovery after a restart from what the store says, and the
// backstop deadlines behind a worker's own timeout and stop.
//
// No sockets, no files, no store, no logging: every change is handed to a
// JobObserver at once, in order (the broker stores it and tells the job's
// followers), and time comes from an injected JobClock. This header
// includes nothing of the broker's loop (broker_impl.h includes it, never
// the other way round).
//
// Not thread-safe: the broker's loop owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/job.h"

namespace shoal::broker {

using Clock = std::chrono::steady_clock;

// Where time comes from: `steady` for deadlines, `wall_ns` for the times a
// job records (events, executions, modified_ns). Tests set both.
struct JobClock {
  std::function<Clock::time_point()> steady = [] { return Clock::now(); };
  std::function<int64_t()> wall_ns = [] { return jobs::now_ns(); };
};

// How long a worker may take past a run's --timeout, and after a stop
// request, before the broker ends the run itself (JobTable::end_overdue),
// counted from the run's start and from the stop request. A remote
// worker's run also writes its input files before the guest starts and
// sends its output files back after it ends, within the run's time as the
// broker sees it: it gets longer.
inline constexpr std::chrono::seconds kTimeoutGrace{5};
inline constexpr std::chrono::seconds kStopGrace{5};
inline constexpr std::chrono::seconds kRemoteGrace{60};

// Told of every change, synchronously, before anything else happens.
class JobObserver {
 public:
  virtual ~JobObserver() = default;
  // `job` changed; its revision and modified_ns are already advanced.
  // `tell`: its followers are to be told (a `state`, or the `end` when the
  // job is terminal). A terminal job leaves the table once this returns.
  virtual void changed(const jobs::Job& job, bool tell) = 0;
};

// A worker as the dispatch choice sees it; the strings are the owner's.
struct WorkerView {
  std::string_view name;
  std::string_view host;  // "local" for the broker's own pool
  const std::map<std::string, std::string>* labels = nullptr;
  bool idle = false;  // ready, and running nothing
  // How many more runs of `module` (a SHA-256) it may be handed behind the
  // ones it holds, as a batch (0: none; the owner decides, e.g. only for a
  // module whose runs are short and which the worker holds).
  size_t spare = 0;
  std::string_view module;
};

// Where an execution runs.
struct RunPlace {
  std::string worker;
  std::string host;
  bool remote = false;
  std::string detail;  // more of where, for the job's history (a pilot's Slurm job and node)
};

// What a worker reported when a run ended.
struct RunEnd {
  bool completed = false;  // returned or exited; else failed with `message`
  std::optional<int32_t> exit_code;
  std::string message;
  uint64_t stdout_bytes = 0, stderr_bytes = 0;
  uint64_t stdout_dropped = 0, stderr_dropped = 0;
};

// A run the backstop ended: its job is already Failed (timed out) or
// Stopped; the owner kills its worker (local) or forgets it (remote).
struct Overdue {
  std::string job_id;
  RunPlace place;
  bool stop = false;  // a stop unanswered, else a timeout overrun
  std::string what;   // e.g. "had not ended the run 5 s past its timeout"
};

class JobTable {
 public:
  JobTable(uint32_t max_attempts, JobObserver& observer, JobClock clock = {});

  // The unfinished job `id`, or null.
  jobs::Job* find(const std::string& id);
  size_t size() const { return jobs_.size(); }
  bool empty() const { return jobs_.empty(); }
  // Whether dispatch() may have a job to offer.
  bool has_queued() const { return !queue_.empty(); }
  // Calls `f` with every queued job, oldest first.
  void each_queued(const std::function<void(const jobs::Job&)>& f) const;

  // Adds an event to `job`'s history, at the clock's time.
  void note(jobs::Job& job, const std::string& topic, const std::string& message);
  // Hands a change the owner made to `job` (events, outputs) to the observer.
  void touch(jobs::Job& job, bool tell);

  // A new job (its id and spec set): Pending when it has URL inputs, else
  // Queued behind the others. The observer stores it (nobody to tell yet).
  // Each job is created a nanosecond or more after the one before, so that
  // the store lists jobs in the order they were submitted (an array's tasks
  // in index order) even when the clock has not moved between them.
  jobs::Job& submit(jobs::Job job);

  // The ids of the unfinished jobs whose ids start with `prefix`, in order.
  std::vector<std::string> ids_with_prefix(const std::string& prefix) const;

  // After a restart, the unfinished jobs the store holds. A Running one's
  // execution ended with the old broker: it is Queued again as a new
  // execution, or Failed once it had max_attempts. A Queued job with URL
  // inputs is Pending again (where they were staged lived in the old
  // broker). Returns the ids of the Pending jobs, to be staged.
  std::vector<std::string> recover(std::vector<jobs::Job> unfinished);

  // URL staging: one URL fetched (`message` says which); `all_in`: the
  // last one, and the job is Queued. Or a URL failed: the job Fails with
  // `message`. Ignored unless the job is Pending.
  void input_fetched(const std::string& id, const std::string& message, bool all_in);
  void input_failed(const std::string& id, const std::string& message);

  // Offers the queued jobs, oldest first, while some worker in `workers` is
  // idle: a job goes to an idle worker whose labels match its constraints,
  // on the host with the most such idle workers; it leaves the queue and
  // `start(job, index)` puts it on workers[index], returning whether it
  // started (start_execution) or not (fail_unstarted). A job that no worker
  // at all matches stays queued, saying why once. `start` must not call
  // dispatch; the worker it was given is then no longer idle.
  //
  // Then, while jobs are still queued (more than the idle workers took),
  // the oldest goes as a batch to a worker with `spare` room whose `module`
  // is the job's and whose labels match (the one with the most room), one
  // spare slot each, until the oldest queued job fits no worker: a worker
  // is handed several runs only when they would otherwise wait in the
  // queue, so a single job's latency does not grow.
  void dispatch(std::vector<WorkerView>& workers,
                const std::function<bool(jobs::Job&, size_t)>& start);
  // The id of `job`'s next execution, "e-<uuid>-<attempt>".
  static std::string next_exec_id(const jobs::Job& job);
  // The job runs as execution `exec_id` at `place`: Running.
  void start_execution(jobs::Job& job, const std::string& exec_id, const RunPlace& place);
  // The job could not be put into a run: Failed with `why`, never started.
  void fail_unstarted(const std::string& id, const std::string& why);

  // Job `id`'s worker has begun its run: the runs it was handed before
  // this one (a batch) have ended. The backstop's timeout counts from now.
  void run_began(const std::string& id);
  // The run of job `id` ended (its worker's `done`): Stopped when a stop was
  // asked for, else Completed with its exit code or Failed with its message.
  void finish(const std::string& id, const RunEnd& end);
  // The worker running job `id` is gone (`message` says how): Stopped when
  // a stop was asked for, Failed after max_attempts executions, else Queued
  // again at the front as a new execution.
  void run_lost(const std::string& id, const std::string& message);
  // The worker `worker` is gone with every run it held (a batch): each is
  // lost as by run_lost, once, and those re-queued go back to the front of
  // the queue in the order they were dispatched. Returns their ids.
  std::vector<std::string> worker_lost(const std::string& worker, const std::string& message);

  // A stop request, with the reason a user gave ("" for none). A Running
  // job is marked, and its worker is to be told (the reply says so:
  // running()); a Pending or Queued one is Stopped now. The job's message
  // (and its history) says "stopped on request", followed by ": REASON"
  // when one was given. Returns the job as it is now, or null when no
  // unfinished job is `id`.
  std::optional<jobs::Job> request_stop(const std::string& id, const std::string& reason = "");
  bool stop_requested(const std::string& id) const { return stops_.contains(id); }

  // A re-run (Bacalhau's `job rerun`): the job runs again as a new
  // execution, its earlier executions, logs and history kept, its exit
  // code, message and output files cleared. `job` is the job as the owner
  // found it: a finished one (from the store) comes back into the table,
  // Queued (Pending when it has URL inputs: the owner stages them); a
  // Running one is stopped first (its worker is to be told, as for a stop)
  // and, once its run has ended (finish, run_lost, end_overdue), Queued
  // again instead of Stopped, so that two executions of one job never run
  // at once. The history says "rerun requested", followed by ": REASON"
  // when one was given. Pending or Queued: refused, as Bacalhau refuses
  // ("cannot rerun job in state Queued"): it has yet to run. Executions
  // before the last re-run do not count against max_attempts. Returns the
  // job as it is now.
  std::expected<jobs::Job, std::string> rerun(const jobs::Job& job, const std::string& reason = "");

  // The backstop: runs kTimeoutGrace past their timeout, or kStopGrace
  // after a stop request (kRemoteGrace for either on a remote worker), end
  // now, Failed as timed out (the worker's own wording) or Stopped, and are
  // not re-queued. Returns them, so that their workers are dealt with.
  std::vector<Overdue> end_overdue();

  // A job whose submission could not be stored: dropped, nothing said.
  void forget(const std::string& id);

 private:
  struct Run {
    std::string exec_id;
    RunPlace place;
    Clock::time_point since;
    std::optional<Clock::time_point> stop_since;
    uint64_t order = 0;  // dispatch order, across the table
  };
  // dispatch()'s second part: the queued jobs handed as batches.
  void dispatch_batches(std::vector<WorkerView>& workers,
                        const std::function<bool(jobs::Job&, size_t)>& start);
  void set_state(jobs::Job& job, jobs::JobState state, const std::string& message);
  void end_execution(jobs::Job& job, jobs::JobState state, std::optional<int32_t> exit_code,
                     const std::string& message);
  // Advances `job`'s revision, hands it to the observer (a copy to `copy`
  // first, when given); a terminal job then leaves.
  void changed(jobs::Job& job, bool tell, jobs::Job* copy = nullptr);
  // dispatch()'s view of the idle workers matching one constraint string
  // (job_table.cpp), kept for the length of one call for at most
  // kCachedSelectors constraint strings: a burst of jobs costs one pass
  // over the workers per constraint string, not one per job.
  class Candidates;
  using CandidateCache = std::map<std::string, Candidates>;
  static constexpr size_t kCachedSelectors = 16;
  Candidates& candidates_for(const jobs::Job& job, const std::vector<WorkerView>& workers,
                             CandidateCache& cache);
  // The index of the worker for `job` among `candidates`, or none; says
  // once why no worker matches.
  std::optional<size_t> choose_worker(jobs::Job& job, const std::vector<WorkerView>& workers,
                                      Candidates& candidates);

  uint32_t max_attempts_;
  JobObserver& observer_;
  JobClock clock_;
  std::map<std::string, jobs::Job> jobs_;  // unfinished jobs, by id
  std::deque<std::string> queue_;          // queued job ids, in order
  // Running jobs asked to stop, each with the message it ends with.
  std::map<std::string, std::string> stops_;
  // Of those, the ones stopped for a re-run: Queued again once the run ends.
  std::set<std::string> reruns_;
  // After job `id`'s run ended as stopped: when it was stopped for a
  // re-run, its execution is ended Stopped and the job Queued again (true).
  bool requeue_rerun(jobs::Job& job, std::optional<int32_t> exit_code, const std::string& message);
  // The message of job `id`'s stop, its request then forgotten; null when
  // it was not asked to stop.
  std::optional<std::string> take_stop(const std::string& id);
  std::map<std::string, Run> runs_;  // running jobs' executions, by job id
  std::set<std::string> unmatched_;  // queued jobs no worker matches (said once)
  int64_t last_created_ = 0;         // the newest job's created_ns
  uint64_t runs_started_ = 0;        // Run::order of the next execution
};

}  // namespace shoal::broker
