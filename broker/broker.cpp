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
            options.dir.run_dir + "/workers.lock", options.dir.cache + "/code"),
      jobs_(options.max_attempts, *this),
      run_limits_{options.default_memory,   options.stdout_cap,       options.stderr_cap,
                  options.output_bytes_cap, options.output_files_cap, options.input_bytes_cap},
      replies_(clients_, *log_, [this](const std::string& identity) { forget_client(identity); }) {
  clients_.set(zmq::sockopt::linger, 0);
  // A client that vanished must not make the broker block or grow without bound.
  // A full queue must be known (see post()), never blocked on.
  clients_.set(zmq::sockopt::router_mandatory, true);
  clients_.set(zmq::sockopt::sndhwm, Replies::kClientQueue);
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

void Broker::send_to_worker(const std::string& name, std::string_view type,
                            const std::string& body) {
  workers_sock_.send(zmq::buffer(name), zmq::send_flags::sndmore);
  workers_sock_.send(zmq::buffer(type), zmq::send_flags::sndmore);
  workers_sock_.send(zmq::buffer(body), zmq::send_flags::none);
}

bool Broker::start() {
  try {
    std::error_code ec;
    std::filesystem::remove(opt_.dir.client_socket_path(), ec);
    clients_.bind(opt_.dir.client_endpoint());
    workers_sock_.bind(opt_.dir.worker_endpoint());
  } catch (const zmq::error_t& e) {
    log_->error("cannot listen on {}: {}", opt_.dir.client_endpoint(), e.what());
    return false;
  }
  if (!listen_remote() || !start_provisioner()) return false;
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
    return false;
  }
  if (*fenced > 0) log_->warn("killed {} workers left by the previous broker", *fenced);
  clear_all_scratch();
  recover();
  if (!worker_tcp_.empty()) remote_hold_until_ = Clock::now() + std::chrono::seconds(4);
  ensure_workers();
  last_activity_ = Clock::now();
  next_beat_ = Clock::now();
  return true;
}

void Broker::read_sockets(const bool readable_at_start[3]) {
  // Only sockets the poll found readable are read, each until it is empty:
  // a read that finds nothing costs libzmq two system calls (a poll of its
  // mailbox and a getpid), so an empty socket is not asked again in this
  // round.
  bool readable[3] = {readable_at_start[0], readable_at_start[1], readable_at_start[2]};
  zmq::socket_t* sockets[3] = {&workers_sock_, &clients_, &staged_};
  for (int round = 0; round < 1000; ++round) {
    bool any = false;
    for (int i = 0; i < 3; ++i) {
      if (!readable[i]) continue;
      std::vector<zmq::message_t> parts;
      if (!zmq::recv_multipart(*sockets[i], std::back_inserter(parts), zmq::recv_flags::dontwait)) {
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
}

void Broker::turn() {
  zmq::pollitem_t items[] = {{clients_.handle(), 0, ZMQ_POLLIN, 0},
                             {workers_sock_.handle(), 0, ZMQ_POLLIN, 0},
                             {staged_.handle(), 0, ZMQ_POLLIN, 0},
                             {nullptr, committer_->fd(), ZMQ_POLLIN, 0}};
  // A backlog drains as its client reads: look again soon.
  auto wait = std::chrono::milliseconds(!replies_.any_waiting() && log_readers_.empty() ? 100 : 2);
  try {
    zmq::poll(items, 4, wait);
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return;
    throw;
  }
  const bool readable[3] = {(items[1].revents & ZMQ_POLLIN) != 0,
                            (items[0].revents & ZMQ_POLLIN) != 0,
                            (items[2].revents & ZMQ_POLLIN) != 0};
  read_sockets(readable);
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
  provision_round();
  if (committer_->done()) finish_commit(committer_->wait());
  start_commit();
  replies_.drain();
  if (Clock::now() >= next_beat_) {
    heartbeat();
    sample_metrics();
    next_beat_ = Clock::now() + std::chrono::milliseconds(wire::kHeartbeatMs);
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
}

int Broker::run() {
  if (!start()) return 1;
  while (!shutting_down_ && !g_signalled) {
    turn();
    if (opt_.idle_exit.count() > 0 && jobs_.empty() && followers_.empty() &&
        Clock::now() - last_activity_ > opt_.idle_exit) {
      log_->info("idle for {} s; exiting", opt_.idle_exit.count());
      break;
    }
  }
  for (const auto& [name, w] : workers_) send_to_worker(name, wire::kBye, "");
  // A broker that stops gives its pilots back; one that dies leaves them
  // to be found again.
  if (provisioner_) provisioner_->cancel_all();
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
