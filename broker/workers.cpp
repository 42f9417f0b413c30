// The broker's workers: the local pool kept full, their messages (ready,
// log, done, need), their liveness (heartbeats both ways; a worker that
// dies or goes silent loses its run, which the job table re-queues), and
// dispatch: the job table chooses, the run builder builds, the worker gets
// the run.
#include <unistd.h>

#include "broker/broker_impl.h"
#include "protocol/client_protocol.h"
#include "protocol/worker_protocol.h"

namespace shoal::broker {

void Broker::ensure_workers() {
  while (pool_.size() < static_cast<size_t>(opt_.workers)) {
    std::string name = "w-" + std::to_string(::getpid()) + "-" + std::to_string(next_worker_++);
    if (auto r = pool_.spawn(name); !r) {
      log_->error("{}", r.error());
      return;
    }
    WorkerState w;
    w.name = name;
    w.last_seen = Clock::now();
    w.host = "local";
    w.labels = opt_.labels;
    workers_[name] = std::move(w);
  }
}

void Broker::on_worker_message(std::vector<zmq::message_t>& parts) {
  if (parts.size() < 2) return;
  std::string name = parts[0].to_string();
  std::string type = parts[1].to_string();
  if (type == wire::kReady && parts.size() == 3) {
    auto ready = wire::decode<wire::Ready>(parts[2].data(), parts[2].size());
    if (ready && ready->remote) {
      if (auto refused = pilot_key_refuses(parts[2], *ready)) {
        log_->warn("remote worker {} refused: {}", name, *refused);
        send_to_worker(name, wire::kBye, "");
        return;
      }
      on_remote_ready(name, *ready);
      return;
    }
  }
  auto it = workers_.find(name);
  if (it == workers_.end()) {
    // A worker of an earlier broker (or a stranger): tell it to leave.
    send_to_worker(name, wire::kBye, "");
    return;
  }
  WorkerState& w = it->second;
  w.last_seen = Clock::now();
  if (type == wire::kReady) {
    w.ready = true;
  } else if (type == wire::kLog && parts.size() == 3) {
    on_worker_log(w, parts[2]);
  } else if (type == wire::kDone && parts.size() == 3) {
    on_worker_done(w, parts[2].to_string());
  } else if (type == wire::kNeed && parts.size() == 3) {
    on_need_module(w, parts[2].to_string());
  }
}

void Broker::on_worker_log(WorkerState& w, const zmq::message_t& body) {
  auto log = wire::decode<wire::Log>(body.data(), body.size());
  if (!log || log->exec_id != w.exec_id) return;
  const jobs::Job* job = jobs_.find(w.job_id);
  if (!job) return;
  uint32_t attempt = static_cast<uint32_t>(job->executions.size());
  batch_.append_log(w.job_id, attempt, static_cast<Stream>(log->stream), log->data);
  auto range = followers_.equal_range(w.job_id);
  for (auto f = range.first; f != range.second; ++f) {
    if (!f->second.logs || !(f->second.stream_mask & log->stream)) continue;
    reply(f->second.identity, protocol::kLog,
          {{"stream", log->stream == 1 ? "stdout" : "stderr"}, {"attempt", attempt}}, {log->data});
  }
}

void Broker::on_worker_done(WorkerState& w, const std::string& body) {
  auto done = wire::decode<wire::Done>(body.data(), body.size());
  // A result for an execution that is no longer this worker's (it was
  // re-queued when the worker went silent) is stale: ignored.
  if (!done || done->exec_id != w.exec_id) return;
  const bool remote = w.remote;
  const std::string job_id = w.job_id;
  const std::string scratch = scratch_of(w, w.exec_id);
  w.exec_id.clear();
  w.job_id.clear();
  jobs::Job* job = jobs_.find(job_id);
  if (!job) {
    clear_scratch(w, scratch);
    return;
  }
  if (remote) unpack_outputs(*done, scratch, *job);
  const bool own_files = !job->spec.stdin_hash.empty() || !job->spec.import_modules.empty() ||
                         !job->spec.inline_inputs.empty();
  // A local run whose guest changed nothing below its mounts left the
  // default output directory empty, as prepared: nothing to collect.
  const bool only_default_output =
      job->spec.outputs.empty() ||
      (job->spec.outputs.size() == 1 && job->spec.outputs[0].name == "outputs" &&
       job->spec.outputs[0].path == "/outputs");
  bool untouched;
  if (!remote && !done->wrote_files && only_default_output) {
    job->output_files.clear();
    job->outputs_message.clear();
    untouched = !own_files;
  } else {
    untouched = collect_outputs(*job, scratch) && !own_files;
  }
  jobs_.finish(job_id, RunEnd{done->completed, done->exit_code, done->message, done->stdout_bytes,
                              done->stderr_bytes, done->stdout_dropped, done->stderr_dropped});
  clear_scratch(w, scratch, untouched);
}

void Broker::on_worker_lost(const std::string& name, const std::string& cause) {
  auto it = workers_.find(name);
  if (it == workers_.end()) return;
  std::string job_id = it->second.job_id;
  std::string why = it->second.killed_because.empty() ? cause : it->second.killed_because;
  // Its process is gone (or, remote, forgotten): nothing writes there now.
  if (!it->second.exec_id.empty() || !it->second.remote)
    discard(scratch_of(it->second, it->second.exec_id));
  if (!it->second.remote) modules_.forget_worker(name);
  workers_.erase(it);
  log_->warn("worker {} {}", name, why);
  if (!job_id.empty()) jobs_.run_lost(job_id, "the worker running it (" + name + ") " + why);
}

void Broker::heartbeat() {
  auto now = Clock::now();
  const auto allowance = std::chrono::milliseconds(wire::kHeartbeatMs * wire::kHeartbeatLiveness);
  // When the loop itself was held up (a long request, SIGSTOP, a starved
  // machine), the workers' silence is the broker's own deafness: give each a
  // fresh allowance rather than kill the pool.
  if (last_beat_ != Clock::time_point{} &&
      now - last_beat_ > std::chrono::milliseconds(2 * wire::kHeartbeatMs))
    for (auto& [name, w] : workers_) w.last_seen = std::max(w.last_seen, now);
  last_beat_ = now;
  std::vector<std::string> silent_remote;
  for (auto& [name, w] : workers_) {
    send_to_worker(name, wire::kHeartbeat, "");
    if (w.remote) {
      // No process of ours to kill: the worker is forgotten, its job re-queued.
      if (now - w.last_seen > allowance) silent_remote.push_back(name);
      continue;
    }
    if (now - w.last_seen >
        allowance + (w.ready ? std::chrono::seconds(0) : std::chrono::seconds(10))) {
      log_->warn("worker {} stopped answering; killing it", name);
      w.killed_because = "stopped answering heartbeats for " +
                         std::to_string(wire::kHeartbeatMs * wire::kHeartbeatLiveness / 1000) +
                         " s and was killed";
      pool_.kill(name);
      w.last_seen = now;  // reap() reports it; don't kill twice
    }
  }
  for (const auto& name : silent_remote)
    on_worker_lost(name, "stopped answering (no heartbeat for " +
                             std::to_string(wire::kHeartbeatLiveness * wire::kHeartbeatMs / 1000) +
                             " s)");
  end_overdue_runs();
}

void Broker::end_overdue_runs() {
  for (const Overdue& o : jobs_.end_overdue()) {
    auto it = workers_.find(o.place.worker);
    log_->warn("worker {} {} of job {}; {}", o.place.worker, o.what, o.job_id,
               o.place.remote ? "forgetting it" : "killing it");
    if (it == workers_.end()) continue;
    WorkerState& w = it->second;
    if (w.remote) {
      // No process of ours: the run is forgotten, and so is the worker,
      // which may be stuck for good; it comes back with `ready` once it
      // has left and its pool has started it again.
      discard(scratch_of(w, w.exec_id));
      send_to_worker(w.name, wire::kBye, "");
      workers_.erase(it);
      continue;
    }
    // Killed, its job already ended: reap() reports it, and on_worker_lost
    // then only replaces it. Until then it takes no run, and a `done` it
    // may still send is for a run it no longer has (ignored).
    w.killed_because = o.what + " and was killed";
    w.exec_id.clear();
    w.job_id.clear();
    w.ready = false;
    pool_.kill(w.name);
  }
}

void Broker::dispatch() {
  if (!jobs_.has_queued()) return;
  std::vector<WorkerView> views;
  std::vector<WorkerState*> states;
  bool any_idle = false;
  const bool hold_remote = Clock::now() < remote_hold_until_;
  for (auto& [name, w] : workers_) {
    const bool idle = w.ready && w.exec_id.empty() && !(w.remote && hold_remote);
    any_idle |= idle;
    views.push_back({name, w.host, &w.labels, idle});
    states.push_back(&w);
  }
  if (!any_idle) return;
  jobs_.dispatch(views, [&](jobs::Job& job, size_t i) { return start_run(job, *states[i]); });
}

bool Broker::start_run(jobs::Job& job, WorkerState& w) {
  RunRequest request;
  request.job = &job;
  request.exec_id = JobTable::next_exec_id(job);
  request.scratch = scratch_of(w, request.exec_id);
  request.remote = w.remote;
  const RunPlace place = w.place();
  // A worker keeps the modules it was sent (a remote one, its host: on
  // disk): after the first time the run names the module by hash alone.
  request.send_module = !modules_.holds(place, job.spec.module_hash);
  request.input_path = [&](const jobs::InputSpec& in) { return input_host_path(job, in); };
  prepare_scratch(w, request.scratch);
  auto run = build_run(
      request, [this](const std::string& hash) { return get_blob(hash); }, run_limits_);
  if (!run) {
    // Whatever was placed in the scratch directory for it goes.
    const std::string id = job.id;
    jobs_.fail_unstarted(id, run.error());
    clear_scratch(w, request.scratch);
    return false;
  }
  if (request.send_module) modules_.sent(place, job.spec.module_hash);
  jobs_.start_execution(job, request.exec_id, place);
  w.exec_id = request.exec_id;
  w.job_id = job.id;
  send_to_worker(w.name, wire::kRun, wire::encode(*run));
  return true;
}

}  // namespace shoal::broker
