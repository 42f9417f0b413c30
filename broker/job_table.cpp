#include "broker/job_table.h"

#include <algorithm>
#include <cstdio>

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

// The executions of `job` that count against max_attempts.
size_t attempts_used(const jobs::Job& job) {
  size_t restarts = 0;
  for (const auto& e : job.executions) restarts += e.message == kBrokerRestarted;
  return job.executions.size() - restarts +
         (restarts > kRestartsForgiven ? restarts - kRestartsForgiven : 0);
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

std::optional<size_t> JobTable::choose_worker(jobs::Job& job,
                                              const std::vector<WorkerView>& workers) {
  auto selector = jobs::parse_selector(job.spec.constraints);
  if (!selector) selector = jobs::Selector{};  // checked at submission; never here
  std::map<std::string_view, int> idle_on_host;
  std::vector<bool> match(workers.size());
  bool any_match = false;
  for (size_t i = 0; i < workers.size(); ++i) {
    match[i] = jobs::matches(*selector, *workers[i].labels);
    any_match |= match[i];
    if (match[i] && workers[i].idle) ++idle_on_host[workers[i].host];
  }
  if (!any_match) {
    if (unmatched_.insert(job.id).second) {
      std::set<std::string_view> seen;
      std::string hosts;
      for (const WorkerView& w : workers)
        if (seen.insert(w.host).second)
          hosts +=
              (hosts.empty() ? "" : "; ") + std::string(w.host) + ": " + describe_labels(*w.labels);
      job.message = "waiting: no connected worker matches the constraints '" +
                    job.spec.constraints +
                    "' (workers' labels: " + (hosts.empty() ? "no workers" : hosts) + ")";
      note(job, "Scheduling", job.message);
      changed(job, true);
    }
    return std::nullopt;
  }
  std::optional<size_t> best;
  int best_idle = 0;
  for (size_t i = 0; i < workers.size(); ++i) {
    if (!workers[i].idle || !match[i]) continue;
    const int idle = idle_on_host[workers[i].host];
    if (idle > best_idle) {
      best = i;
      best_idle = idle;
    }
  }
  if (best && unmatched_.erase(job.id)) job.message.clear();
  return best;
}

void JobTable::each_queued(const std::function<void(const jobs::Job&)>& f) const {
  for (const auto& id : queue_)
    if (auto it = jobs_.find(id); it != jobs_.end() && it->second.state == jobs::JobState::queued)
      f(it->second);
}

void JobTable::dispatch(std::vector<WorkerView>& workers,
                        const std::function<bool(jobs::Job&, size_t)>& start) {
  auto idle = [&] {
    return std::any_of(workers.begin(), workers.end(), [](const WorkerView& w) { return w.idle; });
  };
  for (auto q = queue_.begin(); q != queue_.end() && idle();) {
    auto it = jobs_.find(*q);
    if (it == jobs_.end() || it->second.state != jobs::JobState::queued) {
      q = queue_.erase(q);
      continue;
    }
    auto chosen = choose_worker(it->second, workers);
    if (!chosen) {
      ++q;
      continue;
    }
    q = queue_.erase(q);
    if (start(it->second, *chosen)) workers[*chosen].idle = false;
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
  runs_[job.id] = Run{exec_id, place, clock_.steady(), std::nullopt};
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
  if (auto stop = take_stop(id))
    end_execution(*job, jobs::JobState::stopped, end.exit_code, *stop);
  else if (end.completed)
    end_execution(*job, jobs::JobState::completed, end.exit_code, end.message);
  else
    end_execution(*job, jobs::JobState::failed, std::nullopt, end.message);
  if (end.stdout_dropped || end.stderr_dropped)
    note(*job, "Output",
         "logs truncated: " + std::to_string(end.stdout_dropped) + " bytes of stdout and " +
             std::to_string(end.stderr_dropped) + " bytes of stderr past the caps were dropped");
  changed(*job, true);
}

void JobTable::run_lost(const std::string& id, const std::string& message) {
  jobs::Job* job = find(id);
  if (!job || job->executions.empty()) return;
  runs_.erase(id);
  if (auto stop = take_stop(id)) {
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
      end_execution(job, jobs::JobState::stopped, std::nullopt,
                    take_stop(o.job_id).value_or("stopped on request"));
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
  unmatched_.erase(id);
}

}  // namespace shoal::broker
