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
    if (auto log = wire::decode<wire::Log>(parts[2].data(), parts[2].size()))
      on_worker_log(w, *log);
  } else if (type == wire::kDones && parts.size() == 3) {
    on_worker_dones(w, parts[2]);
  } else if (type == wire::kDone && parts.size() == 3) {
    if (auto done = wire::decode<wire::Done>(parts[2].data(), parts[2].size()))
      on_worker_done(w, *done);
  } else if (type == wire::kNeed && parts.size() == 3) {
    on_need_module(w, parts[2].to_string());
  }
}

void Broker::on_worker_log(WorkerState& w, const wire::Log& log) {
  auto run = w.find_run(log.exec_id);
  if (run == w.runs.end()) return;
  const std::string& job_id = run->job_id;
  const jobs::Job* job = jobs_.find(job_id);
  if (!job) return;
  uint32_t attempt = static_cast<uint32_t>(job->executions.size());
  batch_.append_log(job_id, attempt, static_cast<Stream>(log.stream), log.data);
  auto range = followers_.equal_range(job_id);
  for (auto f = range.first; f != range.second; ++f) {
    if (!f->second.logs || !(f->second.stream_mask & log.stream)) continue;
    reply(f->second.identity, protocol::kLog,
          {{"stream", log.stream == 1 ? "stdout" : "stderr"}, {"attempt", attempt}}, {log.data});
  }
}

void Broker::on_worker_dones(WorkerState& w, const zmq::message_t& body) {
  auto dones = wire::decode<wire::Dones>(body.data(), body.size());
  if (!dones) return;
  for (const wire::Log& log : dones->logs) on_worker_log(w, log);
  // Each end may lose the worker (its state is looked up again each time).
  const std::string name = w.name;
  for (const wire::Done& done : dones->dones) {
    auto it = workers_.find(name);
    if (it == workers_.end()) return;
    on_worker_done(it->second, done);
  }
}

void Broker::on_worker_done(WorkerState& w, const wire::Done& done) {
  // A result for an execution that is no longer this worker's (it was
  // re-queued when the worker went silent) is stale: ignored.
  auto found = w.find_run(done.exec_id);
  if (found == w.runs.end()) return;
  const InHand run = *found;
  const bool was_first = found == w.runs.begin();
  w.runs.erase(found);
  // The next run it holds has begun (its backstop counts from now).
  if (was_first && !w.runs.empty()) jobs_.run_began(w.runs.front().job_id);
  // A run stopped before it began says nothing of how long its module's take.
  if (done.run_us) w.last_run_us = done.run_us;
  const bool remote = w.remote;
  const std::string scratch = scratch_of(w, run);
  jobs::Job* job = jobs_.find(run.job_id);
  if (!job) {
    clear_scratch(w, run);
    return;
  }
  // A remote run that sent no file back has no directory to look at.
  const bool nothing_back = remote && !unpack_outputs(done, scratch, *job);
  const bool own_files = !job->spec.stdin_hash.empty() || !job->spec.import_modules.empty() ||
                         !job->spec.inline_inputs.empty();
  // A local run whose guest changed nothing below its mounts left the
  // default output directory empty, as prepared: nothing to collect.
  const bool only_default_output =
      job->spec.outputs.empty() ||
      (job->spec.outputs.size() == 1 && job->spec.outputs[0].name == "outputs" &&
       job->spec.outputs[0].path == "/outputs");
  bool untouched;
  if ((!remote && !done.wrote_files && only_default_output) || nothing_back) {
    job->output_files.clear();
    job->outputs_message.clear();
    untouched = !own_files;
  } else {
    untouched = collect_outputs(*job, scratch) && !own_files;
  }
  jobs_.finish(run.job_id, RunEnd{done.completed, done.exit_code, done.message, done.stdout_bytes,
                                  done.stderr_bytes, done.stdout_dropped, done.stderr_dropped});
  clear_scratch(w, run, untouched);
}

void Broker::on_worker_lost(const std::string& name, const std::string& cause) {
  auto it = workers_.find(name);
  if (it == workers_.end()) return;
  WorkerState& w = it->second;
  std::string why = w.killed_because.empty() ? cause : w.killed_because;
  // Its process is gone (or, remote, forgotten): nothing writes there now.
  if (w.remote)
    for (const InHand& run : w.runs) discard(scratch_of(w, run));
  else
    for (size_t slot = 0; slot < std::max<size_t>(w.scratch_ready.size(), 1); ++slot)
      discard(scratch_of(w, InHand{"", "", slot}));
  if (!w.remote) modules_.forget_worker(name);
  workers_.erase(it);
  log_->warn("worker {} {}", name, why);
  jobs_.worker_lost(name, "the worker running it (" + name + ") " + why);
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
      for (const InHand& run : w.runs) discard(scratch_of(w, run));
      send_to_worker(w.name, wire::kBye, "");
      workers_.erase(it);
      continue;
    }
    // Killed, its job already ended: reap() reports it, and on_worker_lost
    // then only replaces it and re-queues the other runs it held. Until
    // then it takes no run, and a `done` it may still send for the ended
    // run is for a run it no longer has (ignored).
    w.killed_because = o.what + " and was killed";
    std::erase_if(w.runs, [&](const InHand& r) { return r.job_id == o.job_id; });
    w.ready = false;
    pool_.kill(w.name);
  }
}

size_t Broker::spare_slots(const WorkerState& w) const {
  if (w.remote || !w.ready || w.module.empty() || w.last_run_us >= kShortRunUs ||
      !modules_.holds(w.place(), w.module))
    return 0;
  const size_t wanted =
      std::clamp<size_t>(kBatchUs / std::max<uint64_t>(w.last_run_us, 1), 1, kMaxInHand);
  return wanted > w.runs.size() ? wanted - w.runs.size() : 0;
}

void Broker::dispatch() {
  if (!jobs_.has_queued()) return;
  std::vector<WorkerView> views;
  std::vector<WorkerState*> states;
  bool any_room = false;
  // After a restart, remote workers get nothing for a while (broker.cpp).
  const bool hold_remote = Clock::now() < remote_hold_until_;
  for (auto& [name, w] : workers_) {
    const bool held = w.remote && hold_remote;
    const bool idle = w.ready && w.idle() && !held;
    const size_t spare = held ? 0 : spare_slots(w);
    any_room |= idle || spare;
    views.push_back({name, w.host, &w.labels, idle, spare, w.module});
    states.push_back(&w);
  }
  if (!any_room) return;
  jobs_.dispatch(views, [&](jobs::Job& job, size_t i) { return start_run(job, *states[i]); });
  for (WorkerState* w : states) {
    if (w->outbox.empty()) continue;
    if (w->outbox.size() == 1)
      send_to_worker(w->name, wire::kRun, wire::encode(w->outbox.front()));
    else
      send_to_worker(w->name, wire::kRuns, wire::encode(wire::Runs{std::move(w->outbox)}));
    w->outbox.clear();
  }
}

bool Broker::start_run(jobs::Job& job, WorkerState& w) {
  InHand hand;
  hand.exec_id = JobTable::next_exec_id(job);
  hand.job_id = job.id;
  // The lowest slot none of its runs uses.
  while (std::any_of(w.runs.begin(), w.runs.end(),
                     [&](const InHand& r) { return r.slot == hand.slot; }))
    ++hand.slot;
  RunRequest request;
  request.job = &job;
  request.exec_id = hand.exec_id;
  request.scratch = scratch_of(w, hand);
  request.remote = w.remote;
  const RunPlace place = w.place();
  // A worker keeps the modules it was sent (a remote one, its host: on
  // disk): after the first time the run names the module by hash alone.
  request.send_module = !modules_.holds(place, job.spec.module_hash);
  request.input_path = [&](const jobs::InputSpec& in) { return input_host_path(job, in); };
  prepare_scratch(w, hand);
  auto run = build_run(
      request, [this](const std::string& hash) { return get_blob(hash); }, run_limits_);
  if (!run) {
    // Whatever was placed in the scratch directory for it goes.
    const std::string id = job.id;
    jobs_.fail_unstarted(id, run.error());
    clear_scratch(w, hand);
    return false;
  }
  if (request.send_module) modules_.sent(place, job.spec.module_hash);
  if (w.module != job.spec.module_hash) {
    w.module = job.spec.module_hash;
    w.last_run_us = UINT64_MAX;  // not known to be short: no batch until one ends
  }
  jobs_.start_execution(job, hand.exec_id, place);
  w.runs.push_back(std::move(hand));
  w.outbox.push_back(std::move(*run));
  return true;
}

}  // namespace shoal::broker
