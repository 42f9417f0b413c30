#include "worker/serve.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <fmt/core.h>
#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <expected>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "broker/worker_protocol.h"
#include "wasi/environment.h"
#include "worker/engine.h"
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

void send(zmq::socket_t& s, std::string_view type, const std::string& body = {}) {
  s.send(zmq::buffer(type), zmq::send_flags::sndmore);
  s.send(zmq::buffer(body), zmq::send_flags::none);
}

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

// Runs one job (its module's bytes: `module`) on the calling thread; what
// it writes goes to `logs`, and its end to `pipe`.
void run_job(zmq::socket_t& pipe, LogQueue& logs, wire::Run run, const std::string& module_bytes,
             RunControl* control) {
  wire::Done done;
  done.exec_id = run.exec_id;
  // A remote run brings its files; they live in its own directory here.
  const std::string exec_dir = run.remote ? run.scratch_dir : "";
  if (run.remote) {
    if (auto r = materialize(run, exec_dir); !r) {
      done.message = r.error();
      send(pipe, wire::kDone, wire::encode(done));
      std::error_code ec;
      std::filesystem::remove_all(exec_dir, ec);
      return;
    }
  }
  ForwardSink out(logs, run.exec_id, 1, run.stdout_cap ? run.stdout_cap : UINT64_MAX);
  ForwardSink err(logs, run.exec_id, 2, run.stderr_cap ? run.stderr_cap : UINT64_MAX);

  wasi::Config config;
  config.args = run.args;
  config.env = run.env;
  for (const auto& m : run.mounts) config.mounts.push_back({m.host, m.guest, m.read_only});
  config.stdout_sink = &out;
  config.stderr_sink = &err;
  config.scratch_dir = run.scratch_dir;
  int stdin_fd = -1;
  if (!run.stdin_path.empty()) stdin_fd = ::open(run.stdin_path.c_str(), O_RDONLY | O_CLOEXEC);
  config.stdin_fd = stdin_fd;

  auto env = wasi::Environment::create(config);
  if (stdin_fd >= 0) ::close(stdin_fd);
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
    if (result) {
      done.completed = true;
      done.exit_code = static_cast<int32_t>(*result);
    } else {
      const auto& e = result.error();
      switch (e.kind) {
        case RunError::Kind::trap:
          done.message = "the program trapped: " + e.message;
          break;
        case RunError::Kind::timeout:
          done.message = "the program " + e.message;
          break;
        case RunError::Kind::cancelled:
          done.message = "stopped";
          break;
        default:
          done.message = e.message;
      }
    }
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
  send(pipe, wire::kDone, wire::encode(done));
}

// The one thread that runs jobs, for the life of the worker. It keeps one
// PAIR connection to the main thread: a PAIR socket accepts a single peer, so
// a connection per job could be refused while the last one is torn down, and
// the job's messages would be lost.
class JobThread {
 public:
  JobThread(zmq::context_t& ctx, const std::string& endpoint)
      : logs_([this] { send(*pipe_, kFlush); }),
        thread_([this, &ctx, endpoint] { loop(ctx, endpoint); }) {}
  ~JobThread() {
    {
      std::lock_guard lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void start(wire::Run run, std::shared_ptr<const std::string> module, RunControl* control) {
    {
      std::lock_guard lock(mu_);
      next_ = std::move(run);
      next_module_ = std::move(module);
      control_ = control;
    }
    cv_.notify_all();
  }
  // What the running job wrote, for the main thread to send.
  LogQueue& logs() { return logs_; }
  // Asks the main thread to take the logs now (the queue is full).
  static constexpr char kFlush[] = "flush";

 private:
  void loop(zmq::context_t& ctx, const std::string& endpoint) {
    zmq::socket_t pipe(ctx, zmq::socket_type::pair);
    pipe.set(zmq::sockopt::linger, 0);
    pipe.connect(endpoint);
    pipe_ = &pipe;
    for (;;) {
      std::optional<wire::Run> run;
      std::shared_ptr<const std::string> module;
      RunControl* control;
      {
        std::unique_lock lock(mu_);
        // Between jobs: code waiting for V8's optimising compiler goes to
        // the code cache once it is done.
        while (!quit_ && !next_ && idle_pending_) {
          lock.unlock();
          idle_pending_ = engine_idle_work();
          lock.lock();
          if (idle_pending_) cv_.wait_for(lock, std::chrono::milliseconds(500));
        }
        // A second without work: give the memory of past jobs back.
        if (ran_since_release_ && !cv_.wait_for(lock, std::chrono::seconds(1),
                                                [this] { return quit_ || next_.has_value(); })) {
          lock.unlock();
          engine_idle_work(std::chrono::milliseconds(0), true);
          lock.lock();
          ran_since_release_ = false;
        }
        cv_.wait(lock, [this] { return quit_ || next_.has_value(); });
        if (quit_) return;
        run = std::move(next_);
        next_.reset();
        module = std::move(next_module_);
        control = control_;
      }
      run_job(pipe, logs_, std::move(*run), *module, control);
      idle_pending_ = ran_since_release_ = true;
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool quit_ = false;
  std::optional<wire::Run> next_;
  std::shared_ptr<const std::string> next_module_;
  RunControl* control_ = nullptr;
  bool idle_pending_ = false;       // this thread only
  bool ran_since_release_ = false;  // this thread only
  zmq::socket_t* pipe_ = nullptr;   // this thread's, for kFlush
  LogQueue logs_;
  std::thread thread_;
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
    return app.exit(e) == 0 ? 0 : 125;
  }
  if (auto bound = bind_to_parent(parent, fence); !bound) {
    fmt::print(stderr, "shoal-worker {}: {}\n", name, bound.error());
    return 125;
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
    return 125;
  }
  broker.connect(endpoint);
  const bool is_remote = remote.remote();
  // A remote link may stall; the loop must keep its heartbeats, so it never
  // blocks on a send there (what cannot be queued is dropped).
  const auto flags = is_remote ? zmq::send_flags::dontwait : zmq::send_flags::none;
  auto to_broker = [&](std::string_view type, const std::string& body) {
    try {
      if (!broker.send(zmq::buffer(type), flags | zmq::send_flags::sndmore)) return;
      (void)broker.send(zmq::buffer(body), flags);
    } catch (const zmq::error_t&) {
    }
  };
  std::optional<wire::Run> waiting;  // a run whose module is on its way
  // Modules by hash: the broker sends a module's bytes to a worker once.
  ModuleMemo modules(kMemoModules, static_cast<size_t>(module_memory));
  const std::string module_dir = remote.work_dir + "/modules";  // a remote host's, on disk
  zmq::socket_t pipe(ctx, zmq::socket_type::pair);
  const std::string pipe_endpoint = "inproc://job";
  pipe.bind(pipe_endpoint);

  wire::Ready ready;
  ready.name = name;
  ready.pid = static_cast<int32_t>(::getpid());
  if (is_remote) {
    ready.remote = true;
    ready.host = remote.host;
    ready.labels = remote.labels;
  }
  to_broker(wire::kReady, wire::encode(ready));
  auto last_heard = Clock::now();
  bool heard = false;
  auto next_beat = Clock::now() + std::chrono::milliseconds(wire::kHeartbeatMs);
  std::unique_ptr<RunControl> control;
  JobThread job(ctx, pipe_endpoint);
  std::string running_exec;

  auto send_logs = [&] {
    for (const auto& log : job.logs().take()) to_broker(wire::kLog, wire::encode(log));
  };
  for (;;) {
    zmq::pollitem_t items[] = {{broker.handle(), 0, ZMQ_POLLIN, 0},
                               {pipe.handle(), 0, ZMQ_POLLIN, 0}};
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_beat - Clock::now());
    // While a job runs, what it writes leaves every kLogEveryMs at most.
    if (!running_exec.empty()) wait = std::min(wait, std::chrono::milliseconds(kLogEveryMs));
    zmq::poll(items, 2, std::max(wait, std::chrono::milliseconds(0)));
    if (!running_exec.empty()) send_logs();

    if (items[0].revents & ZMQ_POLLIN) {
      std::vector<zmq::message_t> parts;
      (void)zmq::recv_multipart(broker, std::back_inserter(parts));
      last_heard = Clock::now();
      heard = true;
      std::string type = parts.empty() ? "" : parts[0].to_string();
      auto start = [&](wire::Run run, std::shared_ptr<const std::string> module) {
        running_exec = run.exec_id;
        control = std::make_unique<RunControl>();
        job.start(std::move(run), std::move(module), control.get());
      };
      if (type == wire::kRun && parts.size() == 2 && running_exec.empty() && !waiting) {
        auto run = wire::decode<wire::Run>(parts[1].data(), parts[1].size());
        if (!run) continue;
        if (run->remote) run->scratch_dir = remote.work_dir + "/scratch/" + run->exec_id;
        // The bytes come with the run the first time; after that the run
        // names the module by hash. A remote host also keeps them on disk.
        std::shared_ptr<const std::string> module;
        if (!run->module.empty()) {
          if (run->remote) cache_module(module_dir, run->module_hash, run->module);
          module = modules.put(run->module_hash, std::move(run->module));
        } else if (!(module = modules.get(run->module_hash)) && run->remote) {
          if (auto cached = cached_module(module_dir, run->module_hash))
            module = modules.put(run->module_hash, std::move(*cached));
        }
        if (!module) {
          to_broker(wire::kNeed, run->exec_id);
          waiting = std::move(run);
          continue;
        }
        start(std::move(*run), std::move(module));
      } else if (type == wire::kModule && parts.size() == 2 && waiting) {
        auto m = wire::decode<wire::ModuleBytes>(parts[1].data(), parts[1].size());
        if (m && m->hash == waiting->module_hash) {
          if (waiting->remote) cache_module(module_dir, m->hash, m->bytes);
          start(std::move(*waiting), modules.put(m->hash, std::move(m->bytes)));
          waiting.reset();
        }
      } else if (type == wire::kStop && parts.size() == 2) {
        if (control && parts[1].to_string() == running_exec) control->cancel();
      } else if (type == wire::kBye) {
        if (control) control->cancel();
        return 0;
      }
    }
    if (items[1].revents & ZMQ_POLLIN) {
      std::vector<zmq::message_t> parts;
      (void)zmq::recv_multipart(pipe, std::back_inserter(parts));
      if (parts.size() == 2) {
        std::string type = parts[0].to_string();
        // The job's output goes before its end (and a full queue at once).
        send_logs();
        if (type != JobThread::kFlush) to_broker(type, parts[1].to_string());
        if (type == wire::kDone) {
          control.reset();
          running_exec.clear();
        }
      }
    }
    if (Clock::now() >= next_beat) {
      to_broker(wire::kHeartbeat, "");
      next_beat = Clock::now() + std::chrono::milliseconds(wire::kHeartbeatMs);
    }
    // A local worker the broker started (--parent-pid) learns of its death
    // from the kernel, so silence only means the broker is busy (a long
    // request holds its loop): it keeps its job. A remote worker, once it has
    // heard its broker, takes silence for a lost link or broker; it waits
    // for a broker that is not up yet.
    if (((is_remote && heard) || (!is_remote && parent <= 0)) &&
        Clock::now() - last_heard >
            std::chrono::milliseconds(wire::kHeartbeatMs * wire::kHeartbeatLiveness)) {
      // The broker is gone: a new local broker starts its own pool, and a
      // remote pool starts this worker again to reconnect. The job is
      // abandoned, since the broker re-queues it anyway.
      if (control) control->cancel();
      if (is_remote)
        fmt::print(stderr, "shoal-worker {}: lost the broker at {}; leaving\n", name, endpoint);
      return is_remote ? 3 : 0;
    }
  }
}

}  // namespace shoal::worker
