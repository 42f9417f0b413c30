#include "broker/job_table.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <tuple>

#include "protocol/constraints.h"

namespace shoal::broker {
namespace {

std::string describe_labels(const std::map<std::string, std::string>& labels) {
  std::string out;
  for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=" + v;
  return out.empty() ? "none" : out;
}

std::chrono::seconds grace_of(const RunPlace& place, bool stop) {
  if (place.remote) return kRemoteGrace;
  return stop ? kStopGrace : kTimeoutGrace;
}

bool has_url_inputs(const jobs::JobSpec& spec) {
  return std::any_of(spec.inputs.begin(), spec.inputs.end(),
                     [](const jobs::InputSpec& in) { return in.is_url(); });
}

}  // namespace

namespace {

constexpr char kBrokerRestarted[] = "the broker restarted while it ran";
// A broker restart is no fault of the job's: the executions it cut count
// against max_attempts only past this many (a job that itself brings the
// broker down still ends).
constexpr size_t kRestartsForgiven = 5;

constexpr char kRerunRequested[] = "rerun requested";

// When `job` was last asked to re-run (JobTable::rerun), or 0.
int64_t last_rerun_ns(const jobs::Job& job) {
  for (auto e = job.history.rbegin(); e != job.history.rend(); ++e)
    if (e->topic == "Submission" && e->message.starts_with(kRerunRequested)) return e->time_ns;
  return 0;
}

// The executions of `job` that count against max_attempts: those since its
// last re-run.
size_t attempts_used(const jobs::Job& job) {
  const int64_t since = last_rerun_ns(job);
  size_t runs = 0, restarts = 0;
  for (const auto& e : job.executions) {
    if (e.started_ns < since) continue;
    ++runs;
    restarts += e.message == kBrokerRestarted;
  }
  return runs - restarts + (restarts > kRestartsForgiven ? restarts - kRestartsForgiven : 0);
}

}  // namespace

JobTable::JobTable(uint32_t max_attempts, JobObserver& observer, JobClock clock)
    : max_attempts_(max_attempts), observer_(observer), clock_(std::move(clock)) {}

jobs::Job* JobTable::find(const std::string& id) {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : &it->second;
}

void JobTable::note(jobs::Job& job, const std::string& topic, const std::string& message) {
  job.history.push_back({clock_.wall_ns(), topic, message});
}

void JobTable::touch(jobs::Job& job, bool tell) {
  changed(job, tell);
}

void JobTable::set_state(jobs::Job& job, jobs::JobState state, const std::string& message) {
  if (job.state == state && message.empty()) return;
  note(job, "State",
       std::string(jobs::state_name(job.state)) + " -> " + std::string(jobs::state_name(state)) +
           (message.empty() ? "" : ": " + message));
  job.state = state;
  // A job that ends says why it failed or stopped, and nothing when it
  // completed, whatever an earlier execution said (docs/protocol.md).
  if (!message.empty() || jobs::is_terminal(state)) job.message = message;
}

void JobTable::end_execution(jobs::Job& job, jobs::JobState state, std::optional<int32_t> exit_code,
                             const std::string& message) {
  auto& exec = job.executions.back();
  exec.state = state;
  exec.ended_ns = clock_.wall_ns();
  exec.exit_code = exit_code;
  exec.message = message;
  job.exit_code = exit_code;
  set_state(job, state, message);
}

void JobTable::changed(jobs::Job& job, bool tell, jobs::Job* copy) {
  job.modified_ns = clock_.wall_ns();
  ++job.revision;
  if (copy) *copy = job;
  observer_.changed(job, tell);
  if (jobs::is_terminal(job.state)) forget(std::string(job.id));
}

jobs::Job& JobTable::submit(jobs::Job job) {
  job.created_ns = last_created_ = std::max(clock_.wall_ns(), last_created_ + 1);
  const bool has_urls = has_url_inputs(job.spec);
  job.state = has_urls ? jobs::JobState::pending : jobs::JobState::queued;
  note(job, "Submission", "job submitted");
  note(job, "State", std::string(jobs::state_name(job.state)));
  const std::string id = job.id;
  jobs::Job& added = jobs_[id] = std::move(job);
  if (!has_urls) queue_.push_back(id);
  changed(added, false);
  return added;
}

std::vector<std::string> JobTable::ids_with_prefix(const std::string& prefix) const {
  std::vector<std::string> out;
  for (auto it = jobs_.lower_bound(prefix); it != jobs_.end() && it->first.starts_with(prefix);
       ++it)
    out.push_back(it->first);
  return out;
}

std::vector<std::string> JobTable::recover(std::vector<jobs::Job> unfinished) {
  std::vector<std::string> pending;
  for (jobs::Job& job : unfinished) {
    if (job.state == jobs::JobState::running) {
      // Its worker died with the old broker: that execution is over.
      auto& exec = job.executions.back();
      exec.state = jobs::JobState::failed;
      exec.ended_ns = clock_.wall_ns();
      exec.message = kBrokerRestarted;
      if (attempts_used(job) >= max_attempts_) {
        set_state(job, jobs::JobState::failed,
                  "gave up after " + std::to_string(job.executions.size()) +
                      " executions; the last: " + exec.message);
        changed(job, false);
        continue;
      }
      set_state(job, jobs::JobState::queued, "re-queued after a broker restart");
    }
    // The URL cache revalidates rather than downloads.
    if (has_url_inputs(job.spec) && job.state == jobs::JobState::queued)
      set_state(job, jobs::JobState::pending, "staging URL inputs again after a broker restart");
    const std::string id = job.id;
    jobs::Job& added = jobs_[id] = std::move(job);
    if (added.state == jobs::JobState::queued)
      queue_.push_back(id);
    else if (added.state == jobs::JobState::pending)
      pending.push_back(id);
    changed(added, false);
  }
  return pending;
}

void JobTable::input_fetched(const std::string& id, const std::string& message, bool all_in) {
  jobs::Job* job = find(id);
  if (!job || job->state != jobs::JobState::pending) return;
  note(*job, "Input", message);
  if (all_in) {
    set_state(*job, jobs::JobState::queued, "");
    queue_.push_back(id);
  }
  changed(*job, true);
}

void JobTable::input_failed(const std::string& id, const std::string& message) {
  jobs::Job* job = find(id);
  if (!job || job->state != jobs::JobState::pending) return;
  set_state(*job, jobs::JobState::failed, message);
  changed(*job, true);
}

// The idle workers that match one job's constraints during one dispatch()
// call, ordered for the choice: the host with the most of them first (on a
// tie, the host whose first such worker comes first in the list), and on
// each host its workers in list order. Built once per constraint string and
// call, in one pass over the workers; after that a choice, or a worker
// taken by any job, costs a few operations on the host's entry, however
// many workers and hosts there are.
class JobTable::Candidates {
 public:
  Candidates(jobs::Selector selector, const std::vector<WorkerView>& workers)
      : selector_(std::move(selector)), workers_(workers) {
    for (size_t i = 0; i < workers.size(); ++i)
      if (workers[i].idle && jobs::matches(selector_, *workers[i].labels))
        by_host_[workers[i].host].push_back(i);
    for (const auto& [host, list] : by_host_) order_.insert(key(host, list));
  }

  // The worker to give the job, or none when no idle worker matches.
  std::optional<size_t> best() const {
    if (order_.empty()) return std::nullopt;
    return std::get<1>(*order_.begin());
  }

  // Worker i (any worker of the list) is no longer idle.
  void taken(size_t i) {
    auto host = by_host_.find(workers_[i].host);
    if (host == by_host_.end()) return;
    auto& list = host->second;
    auto pos = std::lower_bound(list.begin(), list.end(), i);
    if (pos == list.end() || *pos != i) return;
    order_.erase(key(host->first, list));
    list.erase(pos);
    if (!list.empty()) order_.insert(key(host->first, list));
  }

  // Whether any worker, idle or busy, matches (looked at once).
  bool any_match() {
    if (!any_match_)
      any_match_ = !order_.empty() ||
                   std::any_of(workers_.begin(), workers_.end(), [&](const WorkerView& w) {
                     return jobs::matches(selector_, *w.labels);
                   });
    return *any_match_;
  }

 private:
  // (minus the host's idle matching workers, its first one, the host)
  using Key = std::tuple<int64_t, size_t, std::string_view>;
  static Key key(std::string_view host, const std::vector<size_t>& list) {
    return {-static_cast<int64_t>(list.size()), list.front(), host};
  }
  jobs::Selector selector_;
  const std::vector<WorkerView>& workers_;
  std::map<std::string_view, std::vector<size_t>> by_host_;
  std::set<Key> order_;
  std::optional<bool> any_match_;
};

JobTable::Candidates& JobTable::candidates_for(const jobs::Job& job,
                                               const std::vector<WorkerView>& workers,
                                               CandidateCache& cache) {
  if (auto found = cache.find(job.spec.constraints); found != cache.end()) return found->second;
  auto selector = jobs::parse_selector(job.spec.constraints);
  if (!selector) selector = jobs::Selector{};  // checked at submission; never here
  // A queue of many different constraints keeps at most kCachedSelectors
  // of them; the others are looked at afresh for each job (one pass).
  if (cache.size() >= kCachedSelectors) cache.erase(cache.begin());
  return cache.try_emplace(job.spec.constraints, std::move(*selector), workers).first->second;
}

std::optional<size_t> JobTable::choose_worker(jobs::Job& job,
                                              const std::vector<WorkerView>& workers,
                                              Candidates& candidates) {
  if (auto best = candidates.best()) {
    if (unmatched_.erase(job.id)) job.message.clear();
    return best;
  }
  if (unmatched_.contains(job.id) || candidates.any_match()) return std::nullopt;
  unmatched_.insert(job.id);
  std::set<std::string_view> seen;
  std::string hosts;
  for (const WorkerView& w : workers)
    if (seen.insert(w.host).second)
      hosts +=
          (hosts.empty() ? "" : "; ") + std::string(w.host) + ": " + describe_labels(*w.labels);
  job.message = "waiting: no connected worker matches the constraints '" + job.spec.constraints +
                "' (workers' labels: " + (hosts.empty() ? "no workers" : hosts) + ")";
  note(job, "Scheduling", job.message);
  changed(job, true);
  return std::nullopt;
}

void JobTable::each_queued(const std::function<void(const jobs::Job&)>& f) const {
  for (const auto& id : queue_)
    if (auto it = jobs_.find(id); it != jobs_.end() && it->second.state == jobs::JobState::queued)
      f(it->second);
}

void JobTable::dispatch(std::vector<WorkerView>& workers,
                        const std::function<bool(jobs::Job&, size_t)>& start) {
  size_t idle = static_cast<size_t>(
      std::count_if(workers.begin(), workers.end(), [](const WorkerView& w) { return w.idle; }));
  CandidateCache cache;
  for (auto q = queue_.begin(); q != queue_.end() && idle > 0;) {
    auto it = jobs_.find(*q);
    if (it == jobs_.end() || it->second.state != jobs::JobState::queued) {
      q = queue_.erase(q);
      continue;
    }
    auto chosen = choose_worker(it->second, workers, candidates_for(it->second, workers, cache));
    if (!chosen) {
      ++q;
      continue;
    }
    q = queue_.erase(q);
    WorkerView& w = workers[*chosen];
    // Its room is for runs of its module, behind one of them: none behind another's.
    const bool same_module = w.module == it->second.spec.module_hash;
    if (start(it->second, *chosen)) {
      w.idle = false;
      w.spare = same_module && w.spare ? w.spare - 1 : 0;
      --idle;
      for (auto& [constraints, candidates] : cache) candidates.taken(*chosen);
    }
  }
  dispatch_batches(workers, start);
}

void JobTable::dispatch_batches(std::vector<WorkerView>& workers,
                                const std::function<bool(jobs::Job&, size_t)>& start) {
  while (!queue_.empty()) {
    auto it = jobs_.find(queue_.front());
    if (it == jobs_.end() || it->second.state != jobs::JobState::queued) {
      queue_.pop_front();
      continue;
    }
    jobs::Job& job = it->second;
    std::optional<size_t> best;
    std::optional<jobs::Selector> selector;
    for (size_t i = 0; i < workers.size(); ++i) {
      const WorkerView& w = workers[i];
      if (!w.spare || w.module != job.spec.module_hash) continue;
      if (best && workers[*best].spare >= w.spare) continue;
      if (!selector)
        selector = jobs::parse_selector(job.spec.constraints).value_or(jobs::Selector{});
      if (jobs::matches(*selector, *w.labels)) best = i;
    }
    if (!best) return;
    queue_.pop_front();
    if (start(job, *best)) --workers[*best].spare;
  }
}

std::string JobTable::next_exec_id(const jobs::Job& job) {
  return "e-" + job.id.substr(2) + "-" + std::to_string(job.executions.size() + 1);
}

void JobTable::start_execution(jobs::Job& job, const std::string& exec_id, const RunPlace& place) {
  jobs::Execution exec;
  exec.id = exec_id;
  exec.attempt = static_cast<uint32_t>(job.executions.size() + 1);
  exec.worker = place.worker;
  exec.started_ns = clock_.wall_ns();
  job.executions.push_back(exec);
  note(job, "Execution",
       "execution " + exec_id + " started on " + place.worker +
           (place.remote
                ? " (" + place.host + (place.detail.empty() ? "" : "; " + place.detail) + ")"
                : ""));
  set_state(job, jobs::JobState::running, "");
  runs_[job.id] = Run{exec_id, place, clock_.steady(), std::nullopt, runs_started_++};
  changed(job, true);
}

void JobTable::fail_unstarted(const std::string& id, const std::string& why) {
  jobs::Job* job = find(id);
  if (!job) return;
  set_state(*job, jobs::JobState::failed, why);
  changed(*job, true);
}

void JobTable::finish(const std::string& id, const RunEnd& end) {
  jobs::Job* job = find(id);
  if (!job || job->executions.empty()) return;
  auto& exec = job->executions.back();
  exec.stdout_bytes = end.stdout_bytes;
  exec.stderr_bytes = end.stderr_bytes;
  exec.stdout_dropped = end.stdout_dropped;
  exec.stderr_dropped = end.stderr_dropped;
  if (auto stop = take_stop(id)) {
    if (!requeue_rerun(*job, end.exit_code, *stop))
      end_execution(*job, jobs::JobState::stopped, end.exit_code, *stop);
  } else if (end.completed)
    end_execution(*job, jobs::JobState::completed, end.exit_code, end.message);
  else
    end_execution(*job, jobs::JobState::failed, std::nullopt, end.message);
  if (end.stdout_dropped || end.stderr_dropped)
    note(*job, "Output",
         "logs truncated: " + std::to_string(end.stdout_dropped) + " bytes of stdout and " +
             std::to_string(end.stderr_dropped) + " bytes of stderr past the caps were dropped");
  changed(*job, true);
}

void JobTable::run_began(const std::string& id) {
  if (auto run = runs_.find(id); run != runs_.end()) run->second.since = clock_.steady();
}

std::vector<std::string> JobTable::worker_lost(const std::string& worker,
                                               const std::string& message) {
  std::vector<std::pair<uint64_t, std::string>> held;
  for (const auto& [id, run] : runs_)
    if (run.place.worker == worker) held.emplace_back(run.order, id);
  // Each goes to the front of the queue: the last dispatched first, so that
  // they end up in the order they were dispatched.
  std::sort(held.rbegin(), held.rend());
  std::vector<std::string> ids;
  for (const auto& [order, id] : held) {
    run_lost(id, message);
    ids.push_back(id);
  }
  std::reverse(ids.begin(), ids.end());
  return ids;
}

void JobTable::run_lost(const std::string& id, const std::string& message) {
  jobs::Job* job = find(id);
  if (!job || job->executions.empty()) return;
  runs_.erase(id);
  if (auto stop = take_stop(id)) {
    if (!requeue_rerun(*job, std::nullopt, *stop))
      end_execution(*job, jobs::JobState::stopped, std::nullopt, *stop);
  } else if (attempts_used(*job) >= max_attempts_) {
    end_execution(*job, jobs::JobState::failed, std::nullopt,
                  "gave up after " + std::to_string(job->executions.size()) +
                      " executions; the last: " + message);
    job->executions.back().message = message;  // the execution's own cause
  } else {
    auto& exec = job->executions.back();
    exec.state = jobs::JobState::failed;
    exec.ended_ns = clock_.wall_ns();
    exec.message = message;
    set_state(*job, jobs::JobState::queued, "re-queued: " + message);
    queue_.push_front(id);
  }
  changed(*job, true);
}

std::optional<std::string> JobTable::take_stop(const std::string& id) {
  auto it = stops_.find(id);
  if (it == stops_.end()) return std::nullopt;
  std::string message = std::move(it->second);
  stops_.erase(it);
  return message;
}

std::optional<jobs::Job> JobTable::request_stop(const std::string& id, const std::string& reason) {
  jobs::Job* job = find(id);
  if (!job) return std::nullopt;
  const std::string said = reason.empty() ? "" : ": " + reason;
  if (job->state == jobs::JobState::running) {
    stops_[id] = "stopped on request" + said;
    reruns_.erase(id);  // a stop after a re-run request wins
    if (auto run = runs_.find(id); run != runs_.end() && !run->second.stop_since)
      run->second.stop_since = clock_.steady();
    note(*job, "State", "stop requested" + said);
    changed(*job, false);
    return *job;
  }
  std::erase(queue_, id);
  set_state(*job, jobs::JobState::stopped, "stopped on request" + said);
  jobs::Job now;
  changed(*job, true, &now);
  return now;
}

std::expected<jobs::Job, std::string> JobTable::rerun(const jobs::Job& given,
                                                      const std::string& reason) {
  const std::string said = reason.empty() ? "" : ": " + reason;
  const std::string& id = given.id;
  if (jobs::Job* live = find(id); live && live->state == jobs::JobState::running) {
    stops_[id] = "stopped for a re-run" + said;
    reruns_.insert(id);
    if (auto run = runs_.find(id); run != runs_.end() && !run->second.stop_since)
      run->second.stop_since = clock_.steady();
    note(*live, "Submission", kRerunRequested + said);
    changed(*live, false);
    return *live;
  }
  if (find(id) || !jobs::is_terminal(given.state))
    return std::unexpected("cannot rerun job in state " +
                           std::string(jobs::state_name(given.state)) + ": it has not run yet");
  jobs::Job job = given;
  job.exit_code.reset();
  job.message.clear();
  job.output_files.clear();
  job.outputs_message.clear();
  note(job, "Submission", kRerunRequested + said);
  const bool has_urls = has_url_inputs(job.spec);
  set_state(job, has_urls ? jobs::JobState::pending : jobs::JobState::queued, "");
  jobs::Job& added = jobs_[id] = std::move(job);
  if (!has_urls) queue_.push_back(id);
  jobs::Job now;
  changed(added, true, &now);
  return now;
}

bool JobTable::requeue_rerun(jobs::Job& job, std::optional<int32_t> exit_code,
                             const std::string& message) {
  if (!reruns_.erase(job.id)) return false;
  auto& exec = job.executions.back();
  exec.state = jobs::JobState::stopped;
  exec.ended_ns = clock_.wall_ns();
  exec.exit_code = exit_code;
  exec.message = message;
  set_state(job, jobs::JobState::queued, "");
  job.exit_code.reset();
  job.message.clear();
  job.output_files.clear();
  job.outputs_message.clear();
  runs_.erase(job.id);
  queue_.push_back(job.id);
  return true;
}

std::vector<Overdue> JobTable::end_overdue() {
  const auto now = clock_.steady();
  std::vector<Overdue> overdue;
  for (auto& [id, run] : runs_) {
    const jobs::Job* job = find(id);
    if (!job) continue;
    if (stops_.contains(id)) {
      if (!run.stop_since) run.stop_since = now;
      if (now - *run.stop_since > grace_of(run.place, true)) {
        overdue.push_back({id, run.place, true, ""});
        continue;
      }
    }
    const auto timeout = std::chrono::milliseconds(job->spec.timeout_ms);
    if (timeout.count() > 0 && now - run.since > timeout + grace_of(run.place, false))
      overdue.push_back({id, run.place, false, ""});
  }
  for (Overdue& o : overdue) {
    jobs::Job& job = *find(o.job_id);
    const std::string grace = std::to_string(grace_of(o.place, o.stop).count()) + " s";
    if (o.stop) {
      o.what = "had not stopped the run " + grace + " after the stop request";
      const std::string stop = take_stop(o.job_id).value_or("stopped on request");
      if (!requeue_rerun(job, std::nullopt, stop))
        end_execution(job, jobs::JobState::stopped, std::nullopt, stop);
    } else {
      // The worker's own wording (worker/engine.cpp), so that a script sees
      // one message for a timeout whoever enforced it.
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%g s",
                    static_cast<double>(job.spec.timeout_ms) / 1000.0);
      o.what = "had not ended the run " + grace + " past its timeout";
      end_execution(job, jobs::JobState::failed, std::nullopt,
                    std::string("the program timed out after ") + seconds + " (--timeout)");
    }
    note(job, "Execution",
         "the worker " + o.place.worker + " " + o.what +
             (o.place.remote ? "; the broker forgot the run and told the worker to leave"
                             : "; the broker killed the worker"));
    changed(job, true);
  }
  return overdue;
}

void JobTable::forget(const std::string& id) {
  // Left in the queue, which dispatch() cleans as it goes: a search of a
  // long queue for every finished job would cost more.
  jobs_.erase(id);
  runs_.erase(id);
  stops_.erase(id);
  reruns_.erase(id);
  unmatched_.erase(id);
}

}  // namespace shoal::broker
