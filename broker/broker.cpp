#include "broker/broker.h"

#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <thread>

#include "broker/broker_impl.h"
#include "broker/job_blobs.h"
#include "host/url_cache.h"
#include "protocol/client_protocol.h"
#include "protocol/job_json.h"
#include "protocol/names.h"
#include "protocol/units.h"
#include "protocol/worker_protocol.h"

namespace shoal::broker {
namespace {

volatile std::sig_atomic_t g_signalled = 0;
void on_signal(int) {
  g_signalled = 1;
}

// Replies queued in ZeroMQ per client, and bytes more held by the broker
// when that queue is full (see Broker::post).
// A queue holds messages, not bytes: with log chunks of up to 64 KiB (and
// `output` parts of up to kOutputPart), 100 messages bound what one client
// that does not read can hold in ZeroMQ's memory.
constexpr int kClientQueue = 100;
constexpr uint64_t kBacklogBytes = 160ull << 20;
// All backlogs together: past this, streamed messages are dropped for
// every client that is behind (counted), and final replies past twice it.
constexpr uint64_t kBacklogTotalBytes = 256ull << 20;

// A reply body as text. Bodies may quote what a client sent (an unknown
// version or command), which need not be UTF-8: invalid bytes become U+FFFD
// instead of an exception that would end the broker.
std::string dump(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

uint64_t size_of(const Outgoing& o) {
  uint64_t size = o.text.empty() ? dump(o.body).size() : o.text.size();
  for (const auto& f : o.frames) size += f.size();
  return size;
}

std::string exec_id_for(const jobs::Job& job, uint32_t attempt) {
  return "e-" + job.id.substr(2) + "-" + std::to_string(attempt);
}

}  // namespace

Broker::Broker(const BrokerOptions& options, std::unique_ptr<Store> store,
               std::shared_ptr<spdlog::logger> log)
    : opt_(options),
      store_(std::move(store)),
      log_(std::move(log)),
      clients_(ctx_, zmq::socket_type::router),
      workers_sock_(ctx_, zmq::socket_type::router),
      staged_(ctx_, zmq::socket_type::pull),
      pool_(options.worker_binary, options.dir.worker_endpoint(), options.dir.log_file,
            options.dir.run_dir + "/workers.lock", options.dir.cache + "/code") {
  clients_.set(zmq::sockopt::linger, 0);
  // A client that vanished must not make the broker block or grow without bound.
  // A full queue must be known (see post()), never blocked on.
  clients_.set(zmq::sockopt::router_mandatory, true);
  clients_.set(zmq::sockopt::sndhwm, kClientQueue);
  // Hundreds of clients may connect at once (xargs -P, a burst of scripts):
  // ZeroMQ's default listen backlog of 100 refuses the rest while the
  // machine is busy.
  clients_.set(zmq::sockopt::backlog, 1024);
  // No frame much past the submission limit is ever held in memory whole.
  clients_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(std::min<uint64_t>(
                                             2 * options.max_module_bytes + (1 << 20), INT64_MAX)));
  workers_sock_.set(zmq::sockopt::linger, 0);
  staged_.bind("inproc://staged");
  committer_ = std::make_unique<Committer>(*store_);
  reaper_ = std::make_unique<Reaper>(
      options.dir.scratch + ".trash",
      [log = log_](const std::string& e) { log->warn("scratch removal: {}", e); });
  if (options.module_memory)
    pool_.set_extra_args({"--module-memory", std::to_string(options.module_memory)});
}

Broker::~Broker() {
  stopping_ = true;
  for (auto& f : fetchers_)
    if (f.thread.joinable()) f.thread.join();
}

void Broker::event(jobs::Job& job, const std::string& topic, const std::string& message) {
  job.history.push_back({jobs::now_ns(), topic, message});
}

void Broker::set_state(jobs::Job& job, jobs::JobState state, const std::string& message) {
  if (job.state == state && message.empty()) return;
  event(job, "State",
        std::string(jobs::state_name(job.state)) + " -> " + std::string(jobs::state_name(state)) +
            (message.empty() ? "" : ": " + message));
  job.state = state;
  // A job that ends says why it failed or stopped, and nothing when it
  // completed, whatever an earlier execution said (docs/protocol.md).
  if (!message.empty() || jobs::is_terminal(state)) job.message = message;
}

const std::string* Broker::pending_blob(const std::string& hash) const {
  if (const std::string* b = batch_.blob(hash)) return b;
  if (const Batch* committing = committer_->batch()) return committing->blob(hash);
  return nullptr;
}

bool Broker::blob_known(const std::string& hash) {
  if (batch_.blob(hash)) return true;
  if (const std::string* committing = pending_blob(hash)) {
    batch_.put_blob(hash, *committing);
    return true;
  }
  auto stored = store_->has_blob(hash);
  return stored && *stored;
}

std::expected<std::optional<std::string>, std::string> Broker::get_blob(const std::string& hash) {
  if (const std::string* pending = pending_blob(hash)) return *pending;
  return store_->get_blob(hash);
}

void Broker::save(jobs::Job& job) {
  job.modified_ns = jobs::now_ns();
  ++job.revision;
  batch_.put_job(job);
}

void Broker::send_to_worker(const std::string& name, std::string_view type,
                            const std::string& body) {
  workers_sock_.send(zmq::buffer(name), zmq::send_flags::sndmore);
  workers_sock_.send(zmq::buffer(type), zmq::send_flags::sndmore);
  workers_sock_.send(zmq::buffer(body), zmq::send_flags::none);
}

void Broker::recover() {
  auto unfinished = store_->unfinished_jobs();
  if (!unfinished) {
    log_->error("recovery: {}", unfinished.error());
    return;
  }
  for (const Damage& d : unfinished->skipped)
    log_->error("recovery: skipped {}: {}; run `shoal doctor`", d.key, d.why);
  for (jobs::Job& job : unfinished->jobs) {
    if (job.state == jobs::JobState::running) {
      // Its worker died with the old broker: that execution is over.
      auto& exec = job.executions.back();
      exec.state = jobs::JobState::failed;
      exec.ended_ns = jobs::now_ns();
      exec.message = "the broker restarted while it ran";
      if (job.executions.size() >= opt_.max_attempts) {
        set_state(job, jobs::JobState::failed,
                  "gave up after " + std::to_string(job.executions.size()) +
                      " executions; the last: " + exec.message);
        save(job);
        continue;
      }
      set_state(job, jobs::JobState::queued, "re-queued after a broker restart");
    }
    // Where URL inputs were staged lived in the old broker's memory: stage
    // them again (the URL cache revalidates rather than downloads).
    bool has_url = std::any_of(job.spec.inputs.begin(), job.spec.inputs.end(),
                               [](const jobs::InputSpec& in) { return in.is_url(); });
    if (has_url && job.state == jobs::JobState::queued)
      set_state(job, jobs::JobState::pending, "staging URL inputs again after a broker restart");
    save(job);
    std::string id = job.id;
    jobs::JobState state = job.state;
    active_[id] = std::move(job);
    if (state == jobs::JobState::queued)
      queue_.push_back(id);
    else if (state == jobs::JobState::pending)
      stage(active_[id]);
  }
  flush();
  if (!active_.empty()) log_->info("recovered {} unfinished jobs", active_.size());
}

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
    auto log = wire::decode<wire::Log>(parts[2].data(), parts[2].size());
    if (!log || log->exec_id != w.exec_id) return;
    auto job = active_.find(w.job_id);
    if (job == active_.end()) return;
    uint32_t attempt = static_cast<uint32_t>(job->second.executions.size());
    batch_.append_log(w.job_id, attempt, static_cast<Stream>(log->stream), log->data);
    auto range = followers_.equal_range(w.job_id);
    for (auto f = range.first; f != range.second; ++f) {
      if (!f->second.logs || !(f->second.stream_mask & log->stream)) continue;
      reply(f->second.identity, protocol::kLog,
            {{"stream", log->stream == 1 ? "stdout" : "stderr"}, {"attempt", attempt}},
            {log->data});
    }
  } else if (type == wire::kDone && parts.size() == 3) {
    on_worker_done(w, parts[2].to_string());
  } else if (type == wire::kNeed && parts.size() == 3) {
    on_need_module(w, parts[2].to_string());
  }
}

void Broker::finish_execution(jobs::Job& job, jobs::JobState state,
                              std::optional<int32_t> exit_code, const std::string& message) {
  auto& exec = job.executions.back();
  exec.state = state;
  exec.ended_ns = jobs::now_ns();
  exec.exit_code = exit_code;
  exec.message = message;
  job.exit_code = exit_code;
  set_state(job, state, message);
}

void Broker::on_worker_done(WorkerState& w, const std::string& body) {
  auto done = wire::decode<wire::Done>(body.data(), body.size());
  // A result for an execution that is no longer this worker's (it was
  // re-queued when the worker went silent) is stale: ignored.
  if (!done || done->exec_id != w.exec_id) return;
  bool remote = w.remote;
  std::string job_id = w.job_id;
  std::string scratch = scratch_of(w, w.exec_id);
  w.exec_id.clear();
  w.job_id.clear();
  auto it = active_.find(job_id);
  if (it == active_.end()) {
    clear_scratch(w, scratch);
    return;
  }
  jobs::Job& job = it->second;
  auto& exec = job.executions.back();
  exec.stdout_bytes = done->stdout_bytes;
  exec.stderr_bytes = done->stderr_bytes;
  exec.stdout_dropped = done->stdout_dropped;
  exec.stderr_dropped = done->stderr_dropped;
  if (remote) unpack_outputs(*done, scratch, job);
  const bool own_files = !job.spec.stdin_hash.empty() || !job.spec.import_modules.empty() ||
                         !job.spec.inline_inputs.empty();
  // A local run whose guest changed nothing below its mounts left the
  // default output directory empty, as prepared: nothing to collect.
  const bool only_default_output =
      job.spec.outputs.empty() ||
      (job.spec.outputs.size() == 1 && job.spec.outputs[0].name == "outputs" &&
       job.spec.outputs[0].path == "/outputs");
  bool untouched;
  if (!remote && !done->wrote_files && only_default_output) {
    job.output_files.clear();
    job.outputs_message.clear();
    untouched = !own_files;
  } else {
    untouched = collect_outputs(job, scratch) && !own_files;
  }
  if (stop_requested_.erase(job_id)) {
    finish_execution(job, jobs::JobState::stopped, done->exit_code, "stopped on request");
  } else if (done->completed) {
    finish_execution(job, jobs::JobState::completed, done->exit_code, "");
  } else {
    finish_execution(job, jobs::JobState::failed, std::nullopt, done->message);
  }
  if (done->stdout_dropped || done->stderr_dropped)
    event(job, "Output",
          "logs truncated: " + std::to_string(done->stdout_dropped) + " bytes of stdout and " +
              std::to_string(done->stderr_dropped) + " bytes of stderr past the caps were dropped");
  save(job);
  notify(job);
  active_.erase(it);
  staged_paths_.erase(job_id);
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
  workers_.erase(it);
  log_->warn("worker {} {}", name, why);
  auto job_it = active_.find(job_id);
  if (job_id.empty() || job_it == active_.end()) return;
  jobs::Job& job = job_it->second;
  std::string message = "the worker running it (" + name + ") " + why;
  if (stop_requested_.erase(job_id)) {
    finish_execution(job, jobs::JobState::stopped, std::nullopt, "stopped on request");
  } else if (job.executions.size() >= opt_.max_attempts) {
    finish_execution(job, jobs::JobState::failed, std::nullopt,
                     "gave up after " + std::to_string(job.executions.size()) +
                         " executions; the last: " + message);
    job.executions.back().message = message;  // the execution's own cause
  } else {
    auto& exec = job.executions.back();
    exec.state = jobs::JobState::failed;
    exec.ended_ns = jobs::now_ns();
    exec.message = message;
    set_state(job, jobs::JobState::queued, "re-queued: " + message);
    queue_.push_front(job_id);
  }
  save(job);
  notify(job);
  if (jobs::is_terminal(job.state)) {
    active_.erase(job_it);
    staged_paths_.erase(job_id);
  }
}

void Broker::heartbeat() {
  auto now = Clock::now();
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
      if (now - w.last_seen >
          std::chrono::milliseconds(wire::kHeartbeatMs * wire::kHeartbeatLiveness))
        silent_remote.push_back(name);
      continue;
    }
    if (now - w.last_seen >
        std::chrono::milliseconds(wire::kHeartbeatMs * wire::kHeartbeatLiveness) +
            (w.ready ? std::chrono::seconds(0) : std::chrono::seconds(10))) {
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
  enforce_limits(now);
}

namespace {

std::chrono::seconds grace_of(const WorkerState& w, bool stop) {
  if (w.remote) return kRemoteGrace;
  return stop ? kStopGrace : kTimeoutGrace;
}

}  // namespace

void Broker::enforce_limits(Clock::time_point now) {
  struct Overdue {
    std::string worker;
    bool stop;  // a stop unanswered, else a timeout overrun
  };
  std::vector<Overdue> overdue;
  for (auto& [name, w] : workers_) {
    if (w.exec_id.empty()) continue;
    if (w.watched_exec != w.exec_id) {
      w.watched_exec = w.exec_id;
      w.watched_since = now;
      w.stop_since.reset();
    }
    auto job = active_.find(w.job_id);
    if (job == active_.end()) continue;
    if (stop_requested_.contains(w.job_id)) {
      if (!w.stop_since) w.stop_since = now;
      if (now - *w.stop_since > grace_of(w, true)) {
        overdue.push_back({name, true});
        continue;
      }
    }
    const auto timeout = std::chrono::milliseconds(job->second.spec.timeout_ms);
    if (timeout.count() > 0 && now - w.watched_since > timeout + grace_of(w, false))
      overdue.push_back({name, false});
  }
  for (const Overdue& o : overdue) {
    WorkerState& w = workers_.at(o.worker);
    const std::string job_id = w.job_id;
    jobs::Job& job = active_.at(job_id);
    const std::string grace = std::to_string(grace_of(w, o.stop).count()) + " s";
    std::string what;
    if (o.stop) {
      what = "had not stopped the run " + grace + " after the stop request";
      finish_execution(job, jobs::JobState::stopped, std::nullopt, "stopped on request");
      stop_requested_.erase(job_id);
    } else {
      // The worker's own wording (worker/engine.cpp), so that a script sees
      // one message for a timeout whoever enforced it.
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%g s",
                    static_cast<double>(job.spec.timeout_ms) / 1000.0);
      what = "had not ended the run " + grace + " past its timeout";
      finish_execution(job, jobs::JobState::failed, std::nullopt,
                       std::string("the program timed out after ") + seconds + " (--timeout)");
    }
    event(job, "Execution",
          "the worker " + w.name + " " + what +
              (w.remote ? "; the broker forgot the run and told the worker to leave"
                        : "; the broker killed the worker"));
    log_->warn("worker {} {} of job {}; {}", w.name, what, job.id,
               w.remote ? "forgetting it" : "killing it");
    save(job);
    notify(job);
    staged_paths_.erase(job_id);
    active_.erase(job_id);
    if (w.remote) {
      // No process of ours: the run is forgotten, and so is the worker,
      // which may be stuck for good; it comes back with `ready` once it
      // has left and its pool has started it again.
      discard(scratch_of(w, w.exec_id));
      send_to_worker(w.name, wire::kBye, "");
      workers_.erase(o.worker);
      continue;
    }
    // Killed, its job already ended: reap() reports it, and on_worker_lost
    // then only replaces it. Until then it takes no run, and a `done` it
    // may still send is for a run it no longer has (ignored).
    w.killed_because = what + " and was killed";
    w.exec_id.clear();
    w.job_id.clear();
    w.ready = false;
    pool_.kill(w.name);
  }
}

void Broker::dispatch() {
  auto idle = [this] {
    for (const auto& [name, w] : workers_)
      if (w.ready && w.exec_id.empty()) return true;
    return false;
  };
  // Jobs stopped or ended while they waited for a matching worker.
  std::erase_if(unmatched_, [this](const std::string& id) { return !active_.contains(id); });
  for (auto q = queue_.begin(); q != queue_.end() && idle();) {
    auto it = active_.find(*q);
    if (it == active_.end() || it->second.state != jobs::JobState::queued) {
      q = queue_.erase(q);
      continue;
    }
    jobs::Job& job = it->second;
    WorkerState* picked = pick_worker(job);
    if (!picked) {
      ++q;
      continue;
    }
    q = queue_.erase(q);
    WorkerState& w = *picked;
    const std::string name = w.name;

    uint32_t attempt = static_cast<uint32_t>(job.executions.size() + 1);
    jobs::Execution exec;
    exec.id = exec_id_for(job, attempt);
    // A job that cannot be put into a run fails before it starts; whatever
    // was placed in the scratch directory for it goes.
    auto give_up = [&](const std::string& why) {
      set_state(job, jobs::JobState::failed, why);
      save(job);
      notify(job);
      staged_paths_.erase(job.id);
      active_.erase(it);
      clear_scratch(w, scratch_of(w, exec.id));
    };
    exec.attempt = attempt;
    exec.worker = name;
    exec.started_ns = jobs::now_ns();

    wire::Run run;
    run.exec_id = exec.id;
    run.job_id = job.id;
    run.module_hash = job.spec.module_hash;
    // A worker keeps the modules it was sent (a remote one, its host: on
    // disk): after the first time the run names the module by hash alone.
    if (!sent_module(w, run.module_hash)) {
      auto module = get_blob(run.module_hash);
      if (!module || !*module) {
        give_up(module ? "the module's bytes are missing from the store" : module.error());
        continue;
      }
      run.module = std::move(**module);
      record_module(w, run.module_hash);
    }
    run.entry_point = job.spec.entry_point;
    run.args.push_back(job.spec.module_name.empty()
                           ? "main.wasm"
                           : std::filesystem::path(job.spec.module_name).filename().string());
    run.args.insert(run.args.end(), job.spec.args.begin(), job.spec.args.end());
    run.env = job.spec.env;
    const std::string scratch = scratch_of(w, exec.id);
    prepare_scratch(w, scratch);
    run.scratch_dir = scratch;
    for (const auto& in : job.spec.inputs)
      run.mounts.push_back({input_host_path(job, in), in.target, true});
    // /outputs exists unless an output claims it; each output is its own directory.
    std::vector<jobs::OutputSpec> outputs = job.spec.outputs;
    bool has_default = false;
    for (const auto& o : outputs) has_default |= o.path == "/outputs";
    if (!has_default) outputs.insert(outputs.begin(), {"outputs", "/outputs"});
    std::string refused;
    for (const auto& o : outputs) {
      // The name comes from a client: joined where the path is built, so
      // that no name can place the directory outside scratch/out.
      auto dir = names::join_plain(scratch + "/out", o.name);
      if (!dir) {
        refused = "output " + o.name + ": " + dir.error();
        break;
      }
      std::error_code ec;
      if (o.name != "outputs" && !std::filesystem::create_directory(*dir, ec) && ec) {
        refused = "cannot make the directory of output " + o.name + ": " + ec.message();
        break;
      }
      run.mounts.push_back({*dir, o.path, false});
    }
    if (!refused.empty()) {
      give_up(refused);
      continue;
    }
    run.timeout_ms = job.spec.timeout_ms;
    run.memory_bytes = job.spec.memory_bytes ? job.spec.memory_bytes : opt_.default_memory;
    run.stdout_cap = opt_.stdout_cap;
    run.stderr_cap = opt_.stderr_cap;
    auto blob = [this](const std::string& hash) { return get_blob(hash); };
    if (auto attached = attach_job_blobs(job.spec, blob, scratch, run); !attached) {
      give_up(attached.error());
      continue;
    }
    if (w.remote) {
      if (auto r = make_remote(run, scratch); !r) {
        give_up(r.error());
        continue;
      }
    }
    job.executions.push_back(exec);
    event(job, "Execution",
          "execution " + exec.id + " started on " + name + (w.remote ? " (" + w.host + ")" : ""));
    set_state(job, jobs::JobState::running, "");
    save(job);
    notify(job);
    w.exec_id = exec.id;
    w.job_id = job.id;
    send_to_worker(name, wire::kRun, wire::encode(run));
  }
}

std::string Outgoing::about() const {
  if (kind != protocol::kEnd && kind != protocol::kState) return "";
  if (!job_id.empty()) return job_id;
  return body.contains("id") && body["id"].is_string() ? body["id"].get<std::string>() : "";
}

void Broker::notify(const jobs::Job& job) {
  auto range = followers_.equal_range(job.id);
  std::string text;  // written once for all its followers
  const bool end = jobs::is_terminal(job.state);
  for (auto f = range.first; f != range.second;) {
    if (end || f->second.states) {
      if (text.empty()) text = jobs::to_json_text(job);
      Outgoing o;
      o.identity = f->second.identity;
      o.kind = end ? protocol::kEnd : protocol::kState;
      o.job_id = job.id;
      o.text = text;
      outgoing_.push_back(std::move(o));
    }
    f = end ? followers_.erase(f) : std::next(f);
  }
}

void Broker::start_commit() {
  if (committer_->busy()) return;
  if (batch_.empty()) {
    // Nothing to make durable, and no earlier reply waits: send at once.
    std::vector<Outgoing> out;
    out.swap(outgoing_);
    for (auto& o : out) post(std::move(o));
    return;
  }
  committing_.swap(outgoing_);
  outgoing_.clear();
  committer_->start(std::exchange(batch_, Batch()));
}

void Broker::finish_commit(Committer::Result r) {
  std::vector<Outgoing> out;
  out.swap(committing_);
  if (!r.status) {
    log_->error("commit failed: {}", r.status.error());
    // Nothing of the batch landed: its acknowledgements become errors.
    std::vector<std::string> refused;
    for (auto& o : out) {
      if (o.kind == protocol::kOk && o.body.contains("id") && o.body.contains("submitted")) {
        std::string id = o.body["id"];
        refused.push_back(id);
        active_.erase(id);
        followers_.erase(id);  // a submission that was also a watch
        std::erase(queue_, id);
        o.kind = protocol::kError;
        o.body = {{"error", "the job could not be stored: " + r.status.error()}};
        o.frames.clear();
      }
    }
    // A refused job may have started, or ended, since: nothing more is
    // said or stored of it (a run of it is ignored when it ends).
    auto about_refused = [&](const Outgoing& o) {
      const std::string id = o.about();
      return !id.empty() && std::find(refused.begin(), refused.end(), id) != refused.end();
    };
    std::erase_if(out, about_refused);
    std::erase_if(outgoing_, about_refused);
    // The other jobs' states (a job that ended, one that was dispatched) are
    // tried again with the next commit, before their later changes, so
    // that none stays behind in the store.
    Batch again = r.batch.job_records_except(refused, r.status.error());
    again.append(batch_.without_jobs(refused));
    batch_ = std::move(again);
  }
  for (auto& o : out) post(std::move(o));
}

void Broker::flush() {
  if (committer_->busy()) finish_commit(committer_->wait());
  start_commit();
  if (committer_->busy()) finish_commit(committer_->wait());
}

// A reply goes straight into the client's ZeroMQ queue while there is room
// (kClientQueue messages). When the queue is full (the client reads slower
// than the broker writes, or not at all) replies wait in order in its
// backlog, up to kBacklogBytes; past that, log chunks and state messages are
// dropped (counted in the `end` message's `logs_dropped`), and the final
// replies (`ok`, `error`, `end`) still wait, so that a follower always gets
// its `end`. A client that is gone is forgotten with its followers.
void Broker::post(Outgoing o) {
  auto b = backlogs_.find(o.identity);
  if (b == backlogs_.end()) {
    switch (deliver(o)) {
      case Delivery::sent:
        return;
      case Delivery::gone:
        forget_client(o.identity);
        return;
      case Delivery::full:
        b = backlogs_.emplace(o.identity, Backlog{}).first;
    }
  }
  Backlog& backlog = b->second;
  uint64_t size = size_of(o);
  bool streamed = o.kind == protocol::kLog || o.kind == protocol::kState;
  // Final replies may go past the caps, up to twice them: a client that
  // sends requests without ever reading loses even those.
  const uint64_t times = streamed ? 1 : 2;
  if (backlog.bytes + size > times * kBacklogBytes ||
      backlog_bytes_ + size > times * kBacklogTotalBytes) {
    if (o.kind == protocol::kLog) backlog.logs_dropped += size;
    if (!streamed)
      log_->warn(
          "dropped a '{}' reply of {} to a client that does not read ({} held for it, {} "
          "for all)",
          o.kind, units::format_bytes(size), units::format_bytes(backlog.bytes),
          units::format_bytes(backlog_bytes_));
    return;
  }
  if (o.kind == protocol::kEnd && backlog.logs_dropped) {
    if (!o.text.empty()) o.body = nlohmann::json::parse(std::exchange(o.text, {}));
    o.body["logs_dropped"] = backlog.logs_dropped;
    backlog.logs_dropped = 0;
  }
  backlog.bytes += size;
  backlog_bytes_ += size;
  backlog.peak = std::max(backlog.peak, backlog.bytes);
  backlog.queue.push_back(std::move(o));
}

Broker::Delivery Broker::deliver(const Outgoing& o) {
  try {
    // ROUTER_MANDATORY: a full queue is EAGAIN (nothing sent), a peer that
    // is gone EHOSTUNREACH. Once the first frame is in, the rest follow.
    if (!clients_.send(zmq::buffer(o.identity),
                       zmq::send_flags::sndmore | zmq::send_flags::dontwait))
      return Delivery::full;
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) return Delivery::gone;
    throw;
  }
  clients_.send(zmq::buffer(std::string_view(protocol::kVersion)), zmq::send_flags::sndmore);
  clients_.send(zmq::buffer(o.kind), zmq::send_flags::sndmore);
  const std::string body = o.text.empty() ? dump(o.body) : std::string();
  clients_.send(zmq::buffer(o.text.empty() ? body : o.text),
                o.frames.empty() ? zmq::send_flags::none : zmq::send_flags::sndmore);
  for (size_t i = 0; i < o.frames.size(); ++i)
    clients_.send(zmq::buffer(o.frames[i]),
                  i + 1 < o.frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  return Delivery::sent;
}

void Broker::drain_backlogs() {
  for (auto b = backlogs_.begin(); b != backlogs_.end();) {
    Backlog& backlog = b->second;
    Delivery d = Delivery::sent;
    while (!backlog.queue.empty()) {
      d = deliver(backlog.queue.front());
      if (d != Delivery::sent) break;
      const uint64_t sent = std::min(backlog.bytes, size_of(backlog.queue.front()));
      backlog.bytes -= sent;
      backlog_bytes_ -= std::min(backlog_bytes_, sent);
      backlog.queue.pop_front();
    }
    if (d == Delivery::gone) {
      std::string identity = b->first;
      ++b;
      forget_client(identity);
    } else if (backlog.queue.empty() && backlog.logs_dropped == 0) {
      // Give a large backlog's memory back to the system, not just to malloc.
      bool large = backlog.peak > (16u << 20);
      b = backlogs_.erase(b);
      if (large) ::malloc_trim(0);
    } else {
      ++b;
    }
  }
}

void Broker::forget_client(const std::string& identity) {
  if (auto b = backlogs_.find(identity); b != backlogs_.end()) {
    backlog_bytes_ -= std::min(backlog_bytes_, b->second.bytes);
    const bool large = b->second.peak > (16u << 20);
    backlogs_.erase(b);
    if (large) ::malloc_trim(0);
  }
  log_readers_.remove_if([&](const LogReader& r) { return r.identity == identity; });
  std::erase_if(followers_, [&](const auto& f) { return f.second.identity == identity; });
}

int Broker::run() {
  try {
    std::error_code ec;
    std::filesystem::remove(opt_.dir.client_socket_path(), ec);
    clients_.bind(opt_.dir.client_endpoint());
    workers_sock_.bind(opt_.dir.worker_endpoint());
  } catch (const zmq::error_t& e) {
    log_->error("cannot listen on {}: {}", opt_.dir.client_endpoint(), e.what());
    return 1;
  }
  if (!listen_remote()) return 1;
  ::chmod(opt_.dir.client_socket_path().c_str(), 0600);
  if (FILE* f = std::fopen((opt_.dir.run_dir + "/broker.pid").c_str(), "w")) {
    std::fprintf(f, "%d\n", ::getpid());
    std::fclose(f);
  }
  log_->info("broker {} listening on {} with {} workers", ::getpid(), opt_.dir.client_endpoint(),
             opt_.workers);
  // Workers of a broker that died must be gone before their jobs re-queue:
  // never two live executions of one job.
  auto fenced = pool_.fence_previous(std::chrono::seconds(10));
  if (!fenced) {
    log_->error("{}", fenced.error());
    return 1;
  }
  if (*fenced > 0) log_->warn("killed {} workers left by the previous broker", *fenced);
  clear_all_scratch();
  recover();
  ensure_workers();
  last_activity_ = Clock::now();
  auto next_beat = Clock::now();

  while (!shutting_down_ && !g_signalled) {
    zmq::pollitem_t items[] = {{clients_.handle(), 0, ZMQ_POLLIN, 0},
                               {workers_sock_.handle(), 0, ZMQ_POLLIN, 0},
                               {staged_.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, committer_->fd(), ZMQ_POLLIN, 0}};
    // A backlog drains as its client reads: look again soon.
    auto wait = std::chrono::milliseconds(backlogs_.empty() && log_readers_.empty() ? 100 : 2);
    try {
      zmq::poll(items, 4, wait);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      throw;
    }
    // Drain what is waiting, then commit it all at once. Only sockets the
    // poll found readable are read, each until it is empty: a read that
    // finds nothing costs libzmq two system calls (a poll of its mailbox and
    // a getpid), so an empty socket is not asked again in this round.
    bool readable[3] = {(items[1].revents & ZMQ_POLLIN) != 0, (items[0].revents & ZMQ_POLLIN) != 0,
                        (items[2].revents & ZMQ_POLLIN) != 0};
    zmq::socket_t* sockets[3] = {&workers_sock_, &clients_, &staged_};
    for (int round = 0; round < 1000; ++round) {
      bool any = false;
      for (int i = 0; i < 3; ++i) {
        if (!readable[i]) continue;
        std::vector<zmq::message_t> parts;
        if (!zmq::recv_multipart(*sockets[i], std::back_inserter(parts),
                                 zmq::recv_flags::dontwait)) {
          readable[i] = false;
          continue;
        }
        any = true;
        if (i == 0) {
          on_worker_message(parts);
        } else if (i == 1) {
          last_activity_ = Clock::now();
          on_client_message(parts);
        } else {
          on_staged(parts);
        }
      }
      if (!any) break;
    }
    for (const auto& dead : pool_.reap()) on_worker_lost(dead.name, dead.cause);
    join_finished_fetchers();
    ensure_workers();
    // What arrived (submissions, ends, logs) and the jobs dispatched
    // meanwhile go to the committer with the replies that wait on them;
    // while it commits, the loop goes on and gathers the next batch. A job
    // may start (and even end) before its submission is durable, but no
    // reply about it leaves before: if the broker dies first, the client
    // was told nothing and the worker dies with the broker; if the commit
    // fails, the client is told so and the run's result is ignored.
    // Log readers before the commit, so that what they send leaves with it.
    pump_log_readers();
    dispatch();
    if (committer_->done()) finish_commit(committer_->wait());
    start_commit();
    drain_backlogs();
    if (Clock::now() >= next_beat) {
      heartbeat();
      next_beat = Clock::now() + std::chrono::milliseconds(wire::kHeartbeatMs);
      // After a burst (clients that left with megabytes queued for them,
      // large modules), glibc keeps the freed memory: give it back once
      // the clients have been quiet for a while.
      const auto now = Clock::now();
      if (now - last_activity_ > std::chrono::seconds(2) &&
          now - last_trim_ > std::chrono::seconds(10)) {
        ::malloc_trim(0);
        last_trim_ = now;
      }
    }
    if (opt_.idle_exit.count() > 0 && active_.empty() && followers_.empty() &&
        Clock::now() - last_activity_ > opt_.idle_exit) {
      log_->info("idle for {} s; exiting", opt_.idle_exit.count());
      break;
    }
  }
  for (const auto& [name, w] : workers_) send_to_worker(name, wire::kBye, "");
  flush();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  pool_.stop_all();
  std::error_code ec;
  std::filesystem::remove(opt_.dir.client_socket_path(), ec);
  log_->info("broker {} stopped", ::getpid());
  return 0;
}

int run_broker(const BrokerOptions& options) {
  // Every job passes buffers of its module's size (hundreds of KiB) through
  // the loop. With glibc's defaults each is an mmap and munmap, or heap
  // growth and a trim, paid again in page faults: keep blocks below 4 MiB in
  // the heap, and give the heap's top back past 32 MiB only.
  // The loop does nearly all the allocating; the fetch threads need no
  // arena each (64 MiB of address space apiece).
  ::mallopt(M_MMAP_THRESHOLD, 4 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 32 << 20);
  ::mallopt(M_ARENA_MAX, 2);
  BrokerOptions opt = options;
  if (opt.workers < 0)
    opt.workers = 0;  // remote pools only
  else if (opt.workers == 0)
    opt.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (auto r = prepare(opt.dir); !r) {
    std::fprintf(stderr, "shoal: %s\n", r.error().c_str());
    return 1;
  }
  auto lock = lock_broker(opt.dir);
  if (!lock) {
    std::fprintf(stderr, "shoal: %s\n", lock.error().c_str());
    return 1;
  }
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(opt.dir.log_file));
  if (opt.log_to_stderr) sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  auto log = std::make_shared<spdlog::logger>("broker", sinks.begin(), sinks.end());
  log->set_level(spdlog::level::from_str(opt.log_level));
  log->flush_on(spdlog::level::info);
  // Deliberately, before the store and the sockets open: the caps on TCP
  // connections (broker/connection_cap.h) are set from this limit.
  if (auto fds = raise_fd_limit(); fds.after != fds.before)
    log->info("raised the open-file limit from {} to {}", fds.before, fds.after);

  auto store = Store::open(opt.dir.store_dir);
  if (!store) {
    log->error("{}", store.error());
    std::fprintf(stderr, "shoal: %s\n", store.error().c_str());
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  Broker broker(opt, std::move(*store), log);
  return broker.run();
}

}  // namespace shoal::broker
