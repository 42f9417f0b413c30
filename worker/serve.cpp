#include "worker/serve.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <fmt/core.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <expected>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "protocol/exit_codes.h"
#include "protocol/worker_protocol.h"
#include "wasi/environment.h"
#include "wasi/host_open.h"
#include "worker/engine.h"
#include "worker/input_copies.h"
#include "worker/log_queue.h"
#include "worker/module_memo.h"
#include "worker/remote_files.h"
#include "worker/remote_link.h"

namespace shoal::worker {
namespace {

using Clock = std::chrono::steady_clock;

// What a worker keeps of the modules it was sent (module_memo.h), at most:
// as many as the broker remembers sending (kWorkerModules), and by default
// 128 MiB of them (--module-memory).
constexpr size_t kMemoModules = 32;
constexpr uint64_t kMemoBytes = uint64_t{128} << 20;
// How often a running job's output is sent, at most (log_queue.h).
constexpr int kLogEveryMs = 20;
// How long a worker told to leave waits for its run to end (Worker::leave_if_stuck).
constexpr std::chrono::seconds kLeaveGrace{5};

// Hands what the guest writes to the log queue, up to a cap; what exceeds
// the cap is counted and dropped.
class ForwardSink final : public wasi::OutputSink {
 public:
  ForwardSink(LogQueue& logs, const std::string& exec_id, uint8_t stream, uint64_t cap)
      : logs_(logs), exec_id_(exec_id), stream_(stream), cap_(cap) {}
  wasi::Errno write(std::span<const uint8_t> data) override {
    uint64_t room = cap_ > written_ ? cap_ - written_ : 0;
    size_t keep = static_cast<size_t>(std::min<uint64_t>(room, data.size()));
    dropped_ += data.size() - keep;
    if (keep) logs_.append(exec_id_, stream_, data.first(keep));
    written_ += keep;
    return wasi::Errno::success;
  }
  uint64_t written() const { return written_; }
  uint64_t dropped() const { return dropped_; }

 private:
  LogQueue& logs_;
  const std::string& exec_id_;
  uint8_t stream_;
  uint64_t cap_;
  uint64_t written_ = 0, dropped_ = 0;
};

// The files a run needs before it starts: a remote run's, in its own
// directory here (`exec_dir`, removed again when they cannot be made), and
// the private copies of read-write inputs.
std::expected<void, std::string> prepare_files(wire::Run& run, const std::string& exec_dir) {
  if (run.remote) {
    if (auto r = materialize(run, exec_dir); !r) {
      std::error_code ec;
      std::filesystem::remove_all(exec_dir, ec);
      return r;
    }
  }
  return copy_read_write_inputs(run);
}

// Runs one job (its module's bytes: `module`) on the calling thread; what
// it writes goes to `logs`. Returns its end.
wire::Done run_job(LogQueue& logs, wire::Run& run, const std::string& module_bytes,
                   RunControl* control) {
  wire::Done done;
  done.exec_id = run.exec_id;
  const std::string exec_dir = run.remote ? run.scratch_dir : "";
  if (auto r = prepare_files(run, exec_dir); !r) {
    done.message = r.error();
    return done;
  }
  ForwardSink out(logs, run.exec_id, 1, run.stdout_cap ? run.stdout_cap : UINT64_MAX);
  ForwardSink err(logs, run.exec_id, 2, run.stderr_cap ? run.stderr_cap : UINT64_MAX);

  wasi::Config config;
  config.args = run.args;
  config.env = run.env;
  for (const auto& m : run.mounts) config.mounts.push_back({m.host, m.guest, m.read_only});
  // Mounts named in the guest's terms: the host paths are the broker's
  // scratch directory, which a job's message must not show.
  config.guest_terms_only = true;
  config.stdout_sink = &out;
  config.stderr_sink = &err;
  config.scratch_dir = run.scratch_dir;
  // The file the broker wrote (or a remote run brought); opened as any file
  // of a mount is, never waiting on whatever may have taken its place.
  wasi::UniqueFd stdin_file;
  std::string stdin_error;
  if (!run.stdin_path.empty()) {
    if (auto opened = wasi::open_host_file(AT_FDCWD, run.stdin_path.c_str(), O_RDONLY | O_CLOEXEC))
      stdin_file = std::move(*opened);
    else
      stdin_error = "stdin: " + std::string(std::strerror(opened.error()));
  }
  config.stdin_fd = stdin_file.get();

  std::expected<std::unique_ptr<wasi::Environment>, std::string> env = std::unexpected(stdin_error);
  if (stdin_error.empty()) env = wasi::Environment::create(config);
  stdin_file.reset();
  if (!env) {
    done.message = env.error();
  } else {
    RunOptions options;
    options.entry_point = run.entry_point;
    if (run.memory_bytes) options.memory_limit = run.memory_bytes;
    if (run.timeout_ms) options.timeout = std::chrono::milliseconds(run.timeout_ms);
    options.control = control;
    options.cache_key = run.module_hash;
    for (const auto& m : run.import_modules)
      options.import_modules.push_back(
          {m.name,
           std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(m.bytes.data()),
                                    m.bytes.size()),
           m.hash});
    std::span<const uint8_t> module(reinterpret_cast<const uint8_t*>(module_bytes.data()),
                                    module_bytes.size());
    auto result = run_wasi_command(module, **env, options);
    done.wrote_files = (*env)->wrote();
    done.completed = result.has_value();
    if (result) done.exit_code = static_cast<int32_t>(*result);
    done.message = run_end_message(result, **env);
  }
  done.stdout_bytes = out.written();
  done.stderr_bytes = err.written();
  done.stdout_dropped = out.dropped();
  done.stderr_dropped = err.dropped();
  if (run.remote) {
    done.outputs =
        collect_outputs(exec_dir, run.output_files_cap, run.output_bytes_cap, done.outputs_message);
    std::error_code ec;
    std::filesystem::remove_all(exec_dir, ec);
  }
  return done;
}

// One worker's life: the broker's socket, the run in hand, and two threads.
//
// The main thread runs the jobs itself and, between them, serves the socket:
// it waits on the socket's file descriptor, reads what came, and sends each
// job's output and end as soon as the job returns. A trivial job so costs one
// wake-up of this process and no hand-over between threads. While a job
// runs (reading, compiling or deserializing its module included), while the
// main thread decodes a run that came with its module's bytes (a large
// module's copies take seconds), and while it does the work between jobs
// (storing compiled code, collecting memory), the watch thread serves the
// socket instead, every kLogEveryMs (or at once when the log queue is
// full): it sends the output so far and the heartbeats, and acts on what
// the broker says (a `stop`, `bye`, a run to start next).
//
// Every use of the socket holds `mu_`, and the watch thread touches it only
// in those times (`running_`, `busy_`, set and cleared under `mu_`). Both
// threads read every message waiting before they let go of the socket, and
// the main thread serves it once more before it waits on the descriptor
// (which libzmq signals only for what is new), so that is never left quiet
// with a message unread.
class Worker {
 public:
  struct Settings {
    std::string name, endpoint;
    bool remote = false;
    std::string work_dir;  // a remote host's: modules/ and scratch/
    pid_t parent = 0;
    size_t module_memory = kMemoBytes;
  };

  Worker(zmq::socket_t& broker, Settings settings)
      : broker_(broker),
        settings_(std::move(settings)),
        send_flags_(settings_.remote ? zmq::send_flags::dontwait : zmq::send_flags::none),
        modules_(kMemoModules, settings_.module_memory),
        logs_([this] { nudge(); }) {}

  // Serves the broker until it says `bye` or is lost; returns the exit code.
  int serve(const wire::Ready& ready) {
    {
      std::lock_guard lock(mu_);
      send(wire::kReady, wire::encode(ready));
    }
    std::thread watch([this] { watch_loop(); });
    int code = main_loop();
    {
      std::lock_guard lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    watch.join();
    return code;
  }

 private:
  struct Pending {
    wire::Run run;
    std::shared_ptr<const std::string> module;
    std::unique_ptr<RunControl> control;  // a stop before it starts cancels it
  };
  // A `run` or `module` message as it came, for open_inbox to decode.
  struct Inbox {
    std::string type;
    zmq::message_t body;
  };

  int main_loop() {
    const int fd = broker_.get(zmq::sockopt::fd);
    for (;;) {
      std::optional<Pending> next;
      std::optional<Inbox> inbox;
      Clock::time_point next_beat;
      {
        std::lock_guard lock(mu_);
        serve_socket();
        if (leave_) return *leave_;
        if (!inbox_.empty()) {
          // Opened below without mu_; the watch thread serves meanwhile.
          inbox = std::move(inbox_.front());
          inbox_.pop_front();
          opening_ = busy_ = true;
          if (watcher_asleep_) cv_.notify_all();
        } else if (!pending_.empty()) {
          next = std::move(pending_.front());
          pending_.pop_front();
          running_ = next->run.exec_id;
          control_ = std::move(next->control);
          if (watcher_asleep_) cv_.notify_all();
        }
        next_beat = next_beat_;
      }
      if (inbox) {
        open_inbox(std::move(*inbox));
        continue;
      }
      if (next) {
        run_next(*next);
        continue;
      }
      if (work_between_jobs()) continue;  // the watch thread may have taken a run meanwhile
      const auto now = Clock::now();
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::min(next_beat, idle_.wake_at()) - now) +
                  std::chrono::milliseconds(1);
      pollfd p{fd, POLLIN, 0};
      int timeout = static_cast<int>(std::max<int64_t>(wait.count(), 0));
      if (::poll(&p, 1, timeout) < 0 && errno != EINTR) {
        fmt::print(stderr, "shoal-worker {}: poll: {}\n", settings_.name, std::strerror(errno));
        return 1;
      }
    }
  }

  // Runs `next` on this thread, then keeps its end (and its last output)
  // with those not sent yet, and sends them all when it is time
  // (wire::Dones): when nothing is left to run, when half of what it held
  // has ended, or kDonesHoldMs after the oldest.
  void run_next(Pending& next) {
    const auto start = Clock::now();
    wire::Done done = run_job(logs_, next.run, *next.module, control_.get());
    const auto end = Clock::now();
    done.run_us = static_cast<uint64_t>(std::max<int64_t>(
        1, std::chrono::duration_cast<std::chrono::microseconds>(end - start).count()));
    idle_.pending = idle_.ran_since_release = true;
    idle_.next_try = end;
    std::lock_guard lock(mu_);
    for (auto& log : logs_.take()) unsent_.logs.push_back(std::move(log));
    if (unsent_.dones.empty()) first_unsent_ = end;
    unsent_.dones.push_back(std::move(done));
    running_.clear();
    control_.reset();
    idle_.since = end;
    if (pending_.empty() || unsent_.dones.size() >= pending_.size() ||
        end - first_unsent_ >= std::chrono::milliseconds(wire::kDonesHoldMs))
      send_dones();
  }

  // With mu_ held: the ends not sent yet go, with their runs' last output.
  // Not to a broker that is gone or said `bye`: a send there could wait.
  void send_dones() {
    if (unsent_.dones.empty() || leave_) return;
    send(wire::kDones, wire::encode(unsent_));
    unsent_.logs.clear();
    unsent_.dones.clear();
  }

  // The work between jobs: code waiting for V8's optimising compiler goes
  // to the code cache once it is done (tried again every 500 ms), and after
  // a second without work the memory of past jobs goes back.
  struct IdleWork {
    bool pending = false;            // code waits to be stored
    bool ran_since_release = false;  // memory to give back
    Clock::time_point since = Clock::now(), next_try = Clock::now();

    Clock::time_point release_at() const { return since + std::chrono::seconds(1); }
    // When the main thread must wake for it (max: never).
    Clock::time_point wake_at() const {
      if (pending) return next_try;
      if (ran_since_release) return release_at();
      return Clock::time_point::max();
    }
  };

  // Does the work between jobs when it is due; returns whether it did. That
  // work can take a while (serializing a large module's code); the watch
  // thread serves the socket meanwhile, as during a run.
  bool work_between_jobs() {
    const auto now = Clock::now();
    const bool store_due = idle_.pending && now >= idle_.next_try;
    const bool release_due = !idle_.pending && idle_.ran_since_release && now >= idle_.release_at();
    if (!store_due && !release_due) return false;
    set_busy(true);
    if (store_due) {
      idle_.pending = engine_idle_work();
      idle_.next_try = Clock::now() + std::chrono::milliseconds(500);
    } else {
      engine_idle_work(std::chrono::milliseconds(0), true);
      idle_.ran_since_release = false;
    }
    set_busy(false);
    return true;
  }

  void watch_loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      if (quit_) return;
      if (!serving()) {
        watcher_asleep_ = true;
        cv_.wait(lock, [this] { return quit_ || serving(); });
        watcher_asleep_ = false;
        continue;
      }
      cv_.wait_for(lock, std::chrono::milliseconds(kLogEveryMs),
                   [this] { return quit_ || nudged_; });
      nudged_ = false;
      if (serving()) {
        send_logs();
        // Ends held while a later run of the batch takes longer.
        if (!unsent_.dones.empty() &&
            Clock::now() - first_unsent_ >= std::chrono::milliseconds(wire::kDonesHoldMs))
          send_dones();
        serve_socket();
      }
      leave_if_stuck();
    }
  }

  // With mu_ held. Told to leave (`bye`, a lost broker) while the main
  // thread is somewhere a cancellation cannot reach (a blocked system call,
  // a long host function), the worker leaves anyway after kLeaveGrace: its
  // broker has given the run up, and a remote pool starts a fresh worker in
  // its place. A local worker's broker kills it instead (docs/reliability.md).
  void leave_if_stuck() {
    if (!leave_ || running_.empty()) return;
    const auto now = Clock::now();
    if (!leave_since_) leave_since_ = now;
    if (now - *leave_since_ < kLeaveGrace) return;
    fmt::print(stderr, "shoal-worker {}: the run did not end within {} s of leaving; exiting\n",
               settings_.name, kLeaveGrace.count());
    std::_Exit(*leave_);
  }

  // Whether the watch thread serves the socket: a job runs, or the main
  // thread does the work between jobs. With mu_ held.
  bool serving() const { return !running_.empty() || busy_; }

  void set_busy(bool busy) {
    std::lock_guard lock(mu_);
    busy_ = busy;
    if (busy && watcher_asleep_) cv_.notify_all();
  }

  // The job's output queue is full: the watch thread takes it now.
  void nudge() {
    {
      std::lock_guard lock(mu_);
      nudged_ = true;
    }
    cv_.notify_all();
  }

  // With mu_ held.
  void send(std::string_view type, const std::string& body) {
    try {
      if (!broker_.send(zmq::buffer(type), send_flags_ | zmq::send_flags::sndmore)) return;
      (void)broker_.send(zmq::buffer(body), send_flags_);
    } catch (const zmq::error_t&) {
    }
  }

  void send_logs() {
    for (const auto& log : logs_.take()) send(wire::kLog, wire::encode(log));
  }

  // With mu_ held: reads every message waiting, sends a heartbeat when one
  // is due, and notices a lost broker.
  void serve_socket() {
    while (broker_.get(zmq::sockopt::events) & ZMQ_POLLIN) {
      std::vector<zmq::message_t> parts;
      if (!zmq::recv_multipart(broker_, std::back_inserter(parts), zmq::recv_flags::dontwait))
        break;
      last_heard_ = Clock::now();
      heard_ = true;
      on_message(parts);
    }
    if (Clock::now() >= next_beat_) {
      send(wire::kHeartbeat, "");
      next_beat_ = Clock::now() + std::chrono::milliseconds(wire::kHeartbeatMs);
    }
    // A local worker the broker started (--parent-pid) learns of its death
    // from the kernel, so silence only means the broker is busy (a long
    // request holds its loop): it keeps its job. A remote worker, once it has
    // heard its broker, takes silence for a lost link or broker; it waits
    // for a broker that is not up yet.
    if (((settings_.remote && heard_) || (!settings_.remote && settings_.parent <= 0)) &&
        Clock::now() - last_heard_ >
            std::chrono::milliseconds(wire::kHeartbeatMs * wire::kHeartbeatLiveness)) {
      // The broker is gone: a new local broker starts its own pool, and a
      // remote pool starts this worker again to reconnect. The job is
      // abandoned, since the broker re-queues it anyway.
      if (settings_.remote)
        fmt::print(stderr, "shoal-worker {}: lost the broker at {}; leaving\n", settings_.name,
                   settings_.endpoint);
      stop_all(settings_.remote ? 3 : 0);
    }
  }

  void stop_all(int code) {
    if (control_) control_->cancel();
    if (!leave_) leave_ = code;
  }

  // With mu_ held. A run or a module's bytes is only put in the inbox here:
  // a run may carry a module of a gigabyte, and decoding it (copies of all
  // of it) and a remote host's copy on disk take seconds, during which the
  // socket must go on being served (open_inbox). Runs are taken whatever
  // the worker holds already: the broker hands it a batch (wire::Runs) or
  // tops one up, and they run in the order they came.
  void on_message(std::vector<zmq::message_t>& parts) {
    std::string type = parts.empty() ? "" : parts[0].to_string();
    if ((type == wire::kRun || type == wire::kRuns) && parts.size() == 2 && !leave_) {
      inbox_.push_back(Inbox{std::move(type), std::move(parts[1])});
    } else if (type == wire::kModule && parts.size() == 2 && !waiting_.empty()) {
      inbox_.push_back(Inbox{std::move(type), std::move(parts[1])});
    } else if (type == wire::kStop && parts.size() == 2) {
      stop(parts[1].to_string());
    } else if (type == wire::kBye) {
      stop_all(0);
    }
  }

  // With mu_ held: a `stop` of one run. The run under way stops; one
  // waiting its turn stops before it starts (its control is cancelled, and
  // it ends as stopped when its turn comes); one still in the inbox is
  // stopped once it is opened. The other runs it holds go on.
  void stop(std::string exec) {
    if (control_ && exec == running_) return control_->cancel();
    for (Pending& p : pending_)
      if (p.run.exec_id == exec) return p.control->cancel();
    if (!inbox_.empty() || opening_ || !waiting_.empty()) early_stops_.push_back(std::move(exec));
  }

  // On the main thread, with the watch thread serving the socket (busy_):
  // decodes what on_message put in the inbox, and takes the runs, or asks
  // for their module. mu_ is held only to hand the result over.
  void open_inbox(Inbox in) {
    const std::string module_dir = settings_.work_dir + "/modules";  // a remote host's, on disk
    std::vector<wire::Run> runs;
    std::optional<wire::ModuleBytes> bytes;
    std::optional<std::string> from_disk;
    if (in.type == wire::kRun) {
      auto run = wire::decode<wire::Run>(in.body.data(), in.body.size());
      in.body = zmq::message_t();
      if (run && run->remote) from_disk = open_remote_run(*run, module_dir);
      if (run) runs.push_back(std::move(*run));
    } else if (in.type == wire::kRuns) {
      if (auto batch = wire::decode<wire::Runs>(in.body.data(), in.body.size()))
        runs = std::move(batch->runs);
      in.body = zmq::message_t();
    } else {
      bytes = wire::decode<wire::ModuleBytes>(in.body.data(), in.body.size());
      in.body = zmq::message_t();
      bool remote;
      {
        std::lock_guard lock(mu_);
        remote = !waiting_.empty() && waiting_.front().remote;
      }
      if (bytes && remote) cache_module(module_dir, bytes->hash, bytes->bytes);
    }

    std::lock_guard lock(mu_);
    opening_ = busy_ = false;
    for (wire::Run& run : runs) take_or_wait(std::move(run), from_disk);
    if (bytes) {
      auto module = modules_.put(bytes->hash, std::move(bytes->bytes));
      std::vector<wire::Run> still;
      for (wire::Run& run : waiting_)
        if (run.module_hash == bytes->hash)
          take(std::move(run), module);
        else
          still.push_back(std::move(run));
      waiting_ = std::move(still);
    }
    if (inbox_.empty() && waiting_.empty()) early_stops_.clear();
  }

  // A remote run: its directory here, and its module from the host's disk
  // when this worker does not hold it (the bytes come with the run the
  // first time; after that the run names the module by hash).
  std::optional<std::string> open_remote_run(wire::Run& run, const std::string& module_dir) {
    run.scratch_dir = settings_.work_dir + "/scratch/" + run.exec_id;
    bool known;
    {
      std::lock_guard lock(mu_);
      known = modules_.get(run.module_hash) != nullptr;
    }
    if (!run.module.empty())
      cache_module(module_dir, run.module_hash, run.module);
    else if (!known)
      return cached_module(module_dir, run.module_hash);
    return std::nullopt;
  }

  // With mu_ held: the run joins those to start, or waits for its module
  // (asked for once per module).
  void take_or_wait(wire::Run run, std::optional<std::string>& from_disk) {
    std::shared_ptr<const std::string> module;
    if (!run.module.empty())
      module = modules_.put(run.module_hash, std::move(run.module));
    else if (!(module = modules_.get(run.module_hash)) && from_disk)
      module = modules_.put(run.module_hash, std::move(*std::exchange(from_disk, std::nullopt)));
    if (module) return take(std::move(run), std::move(module));
    const bool asked = std::any_of(waiting_.begin(), waiting_.end(), [&](const wire::Run& w) {
      return w.module_hash == run.module_hash;
    });
    if (!asked) send(wire::kNeed, run.exec_id);
    waiting_.push_back(std::move(run));
  }

  // With mu_ held.
  void take(wire::Run run, std::shared_ptr<const std::string> module) {
    auto control = std::make_unique<RunControl>();
    if (std::find(early_stops_.begin(), early_stops_.end(), run.exec_id) != early_stops_.end())
      control->cancel();
    pending_.push_back(Pending{std::move(run), std::move(module), std::move(control)});
  }

  zmq::socket_t& broker_;
  const Settings settings_;
  const zmq::send_flags send_flags_;
  // Modules by hash: the broker sends a module's bytes to a worker once.
  ModuleMemo modules_;
  LogQueue logs_;
  IdleWork idle_;  // the main thread's

  std::mutex mu_;  // the socket, and everything below
  std::condition_variable cv_;
  std::deque<Inbox> inbox_;                       // run or module messages not decoded yet
  bool opening_ = false;                          // the main thread decodes one
  std::vector<std::string> early_stops_;          // stops of runs not yet decoded
  std::vector<wire::Run> waiting_;                // runs whose module is on its way
  std::deque<Pending> pending_;                   // runs to start, in order
  std::string running_;                           // the exec id of the run under way
  std::unique_ptr<RunControl> control_;           // the run under way's
  wire::Dones unsent_;                            // ends not sent yet (run_next)
  Clock::time_point first_unsent_;                // when the oldest of them ended
  std::optional<int> leave_;                      // set: leave with this code
  std::optional<Clock::time_point> leave_since_;  // since when leave_ waits on a run
  bool quit_ = false, nudged_ = false, watcher_asleep_ = false;
  bool busy_ = false;  // the main thread is doing the work between jobs
  Clock::time_point last_heard_ = Clock::now();
  bool heard_ = false;
  Clock::time_point next_beat_ = Clock::now() + std::chrono::milliseconds(wire::kHeartbeatMs);
};

// Ties this worker's life to the broker that started it: the kernel sends
// SIGKILL when the parent dies, and the shared lock on `fence` tells the
// next broker that a worker of the previous one is still alive (it takes the
// lock exclusively before it re-queues anything). Fails with a message.
std::expected<int, std::string> bind_to_parent(pid_t parent, const std::string& fence) {
  if (parent > 0) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
      return std::unexpected(std::string("prctl(PR_SET_PDEATHSIG): ") + std::strerror(errno));
    // The parent may have died before the request above: then nobody would
    // send the signal.
    if (::getppid() != parent) return std::unexpected("the broker that started it is gone");
  }
  if (fence.empty()) return -1;
  int fd = ::open(fence.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected("cannot open " + fence + ": " + std::strerror(errno));
  struct flock lk {};
  lk.l_type = F_RDLCK;
  lk.l_whence = SEEK_SET;
  if (::fcntl(fd, F_SETLK, &lk) != 0) {
    std::string e = std::strerror(errno);
    ::close(fd);
    return std::unexpected("cannot lock " + fence + ": " + e);
  }
  return fd;  // held until the process ends
}

}  // namespace

int serve_command(int argc, char** argv) {
  CLI::App app{"Serve the broker as one worker of its pool.", "shoal-worker serve"};
  std::string endpoint, name;
  RemoteOptions remote;
  app.add_option("--endpoint", endpoint, "The broker's worker endpoint")->required();
  app.add_option("--name", name, "This worker's name")->required();
  add_remote_options(app, remote);
  std::string code_cache;
  app.add_option("--code-cache", code_cache, "Keep compiled code in this directory (code_cache.h)");
  uint64_t module_memory = kMemoBytes;
  app.add_option("--module-memory", module_memory,
                 "Bytes of the modules it was sent to keep, for runs that name them by hash");
  pid_t parent = 0;
  std::string fence;
  app.add_option("--parent-pid", parent, "Die with this process (the broker that started it)");
  app.add_option("--fence", fence,
                 "Hold a shared lock on this file while alive, for the next broker to wait on");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : exit_codes::kUsage;
  }
  if (auto bound = bind_to_parent(parent, fence); !bound) {
    fmt::print(stderr, "shoal-worker {}: {}\n", name, bound.error());
    return exit_codes::kUsage;
  }

  EngineSettings settings;
  settings.code_cache_dir = code_cache;
  settings.log = [name](const std::string& line) {
    fmt::print(stderr, "worker {}: {}\n", name, line);
  };
  configure_engine(std::move(settings));

  zmq::context_t ctx;
  zmq::socket_t broker(ctx, zmq::socket_type::dealer);
  broker.set(zmq::sockopt::routing_id, name);
  broker.set(zmq::sockopt::linger, 2000);
  if (auto r = secure_link(broker, remote); !r) {
    fmt::print(stderr, "shoal-worker {}: {}\n", name, r.error());
    return exit_codes::kUsage;
  }
  broker.connect(endpoint);
  // A remote link may stall; the worker must keep its heartbeats, so it
  // never blocks on a send there (what cannot be queued is dropped).
  Worker::Settings link;
  link.name = name;
  link.endpoint = endpoint;
  link.remote = remote.remote();
  link.work_dir = remote.work_dir;
  link.parent = parent;
  link.module_memory = static_cast<size_t>(module_memory);
  wire::Ready ready;
  ready.name = name;
  ready.pid = static_cast<int32_t>(::getpid());
  if (link.remote) {
    ready.remote = true;
    ready.host = remote.host;
    ready.labels = remote.labels;
  }
  Worker worker(broker, std::move(link));
  return worker.serve(ready);
}

}  // namespace shoal::worker
