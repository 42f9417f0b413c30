#include "client/connection.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "host/keys.h"
#include "protocol/client_protocol.h"

extern char** environ;

namespace shoal::client {
namespace {

// How long an auto-started broker waits without work before it exits:
// $SHOAL_IDLE_EXIT seconds, else ten minutes.
std::string auto_idle_exit() {
  const char* v = std::getenv("SHOAL_IDLE_EXIT");
  return v && *v ? v : "600";
}

// The last line the broker wrote to its log: why it stopped, when it did.
std::string last_log_line(const std::string& log_file) {
  std::ifstream in(log_file);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  if (last.starts_with("shoal: ")) last = last.substr(7);
  return last;
}

std::expected<pid_t, std::string> start_broker(const host::StateDir& dir, const std::string& exe) {
  if (auto r = host::prepare(dir); !r) return std::unexpected(r.error());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, dir.log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT,
                                   0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::string idle = auto_idle_exit();
  std::string root = dir.root;
  std::vector<char*> argv = {const_cast<char*>("shoal"),
                             const_cast<char*>("serve"),
                             const_cast<char*>("--state-dir"),
                             root.data(),
                             const_cast<char*>("--idle-exit"),
                             idle.data(),
                             nullptr};
  pid_t pid;
  int rc = ::posix_spawn(&pid, exe.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return std::unexpected("cannot start the broker: " + std::string(std::strerror(rc)));
  return pid;
}

std::atomic<int> g_interrupt_fd{-1};

}  // namespace

void set_interrupt_fd(int fd) {
  g_interrupt_fd = fd;
}

namespace {

// Whether the interrupt fd (set_interrupt_fd) is readable now.
bool interrupt_pending() {
  pollfd p{g_interrupt_fd, POLLIN, 0};
  return p.fd >= 0 && ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

}  // namespace

std::expected<std::string, std::string> shoal_binary() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return std::unexpected("cannot find this program's executable: " + ec.message());
  if (self.filename() == "shoal") return self.string();
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  for (;;) {
    size_t colon = dirs.find(':', start);
    std::string d = dirs.substr(start, colon == std::string::npos ? colon : colon - start);
    std::string candidate = (d.empty() ? "." : d) + "/shoal";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return std::unexpected(std::string(
      "cannot start a broker: no shoal executable on PATH (start one with shoal serve, or "
      "give its path)"));
}

Connection::Connection(host::StateDir dir)
    : dir_(std::move(dir)), where_(dir_.root), sock_(ctx_, zmq::socket_type::dealer) {
  sock_.set(zmq::sockopt::linger, 0);
}

bool Connection::ping(std::chrono::milliseconds timeout) {
  send(protocol::Command::kPing, nlohmann::json::object());
  auto r = next(timeout);
  return r && r->kind == protocol::kOk;
}

std::expected<std::unique_ptr<Connection>, std::string> Connection::open_remote(
    const std::string& endpoint) {
  const char* server_key = std::getenv("SHOAL_SERVER_KEY");
  if (!server_key || !host::valid_key(server_key))
    return std::unexpected(
        "connecting to " + endpoint +
        " needs the broker's public key in SHOAL_SERVER_KEY or --server-key (40 characters; "
        "`shoal keys` on the broker's host prints it)");
  host::StateDir dir = host::state_dir();
  auto keys = host::identity_keys(dir, false);
  if (!keys) return std::unexpected(keys.error());
  std::unique_ptr<Connection> c(new Connection(dir));
  c->where_ = endpoint;
  c->sock_.set(zmq::sockopt::curve_serverkey, std::string(server_key));
  c->sock_.set(zmq::sockopt::curve_publickey, keys->public_key);
  c->sock_.set(zmq::sockopt::curve_secretkey, keys->secret_key);
  // Handshake failures (a refused key) are reported through a monitor, so
  // that they can be told apart from a broker that is not there.
  std::string monitor_endpoint = "inproc://shoal-client-monitor";
  if (zmq_socket_monitor(c->sock_.handle(), monitor_endpoint.c_str(),
                         ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) ==
      0) {
    c->monitor_.emplace(c->ctx_, zmq::socket_type::pair);
    c->monitor_->connect(monitor_endpoint);
  }
  try {
    c->sock_.connect(endpoint);
  } catch (const zmq::error_t& e) {
    return std::unexpected("cannot connect to " + endpoint + ": " + e.what());
  }
  c->send(protocol::Command::kPing, nlohmann::json::object());
  auto r = c->next(std::chrono::milliseconds(5000));
  if (r && r->kind == protocol::kOk) return c;
  if (!r && r.error().starts_with("refused")) return std::unexpected(r.error());
  return std::unexpected("the broker at " + endpoint +
                         " did not answer within 5 s: check the address, that it runs with "
                         "--listen, and SHOAL_SERVER_KEY (a wrong server key goes unanswered)");
}

std::expected<std::unique_ptr<Connection>, std::string> Connection::open(bool autostart) {
  if (const char* remote = std::getenv("SHOAL_CONNECT"); remote && *remote)
    return open_remote(remote);
  return open(host::state_dir(), autostart);
}

std::expected<std::unique_ptr<Connection>, std::string> Connection::open(
    const host::StateDir& dir, bool autostart, const std::string& binary,
    std::chrono::milliseconds answer_within) {
  struct stat st;
  // Another user's state directory: say so, rather than "no broker".
  if (::access(dir.run_dir.c_str(), X_OK) != 0 && errno == EACCES)
    return std::unexpected("cannot reach the broker for " + dir.root + ": " + dir.run_dir +
                           ": Permission denied");
  // The broker holds an exclusive lock on run/broker.lock while it lives, so
  // a stale socket is not mistaken for a broker. A broker that holds the
  // lock without a socket is starting (the socket comes) or shutting down
  // (the lock goes): wait for either.
  for (int i = 0;
       i < 2000 && host::broker_running(dir) && ::stat(dir.client_socket_path().c_str(), &st) != 0;
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (host::broker_running(dir)) {
    std::unique_ptr<Connection> c(new Connection(dir));
    c->sock_.connect(dir.client_endpoint());
    if (c->ping(answer_within)) return c;
    if (interrupt_pending()) return std::unexpected(std::string("interrupted"));
    return std::unexpected("the broker for " + dir.root + " is running but does not answer; see " +
                           dir.log_file);
  }
  if (!autostart)
    return std::unexpected("no broker is running for " + dir.root +
                           " (start one with shoal serve)");
  std::string exe = binary;
  if (exe.empty()) {
    auto found = shoal_binary();
    if (!found) return std::unexpected(found.error());
    exe = *found;
  }
  auto started = start_broker(dir, exe);
  if (!started) return std::unexpected(started.error());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    // A broker that cannot open its state (a damaged store, a full disk)
    // exits at once, its reason the last line of its log.
    int status;
    // (When another broker won the race for the lock, that one answers.)
    if (::waitpid(*started, &status, WNOHANG) == *started && !host::broker_running(dir))
      return std::unexpected("the broker did not start: " + last_log_line(dir.log_file) + " (see " +
                             dir.log_file + ")");
    if (::stat(dir.client_socket_path().c_str(), &st) == 0) {
      std::unique_ptr<Connection> c(new Connection(dir));
      c->sock_.connect(dir.client_endpoint());
      if (c->ping(std::chrono::milliseconds(500))) return c;
      if (interrupt_pending()) return std::unexpected(std::string("interrupted"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::unexpected("the broker did not start; see " + dir.log_file);
}

void Connection::send(protocol::Command command, const nlohmann::json& body,
                      const std::vector<std::string>& frames) {
  sock_.send(zmq::buffer(std::string_view(protocol::kVersion)), zmq::send_flags::sndmore);
  sock_.send(zmq::buffer(protocol::name(command)), zmq::send_flags::sndmore);
  std::string b = body.dump();
  sock_.send(zmq::buffer(b), frames.empty() ? zmq::send_flags::none : zmq::send_flags::sndmore);
  for (size_t i = 0; i < frames.size(); ++i)
    sock_.send(zmq::buffer(frames[i]),
               i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
}

std::expected<Reply, std::string> Connection::next(
    std::optional<std::chrono::milliseconds> timeout) {
  // The socket, the monitor (when there is one, else a null item that
  // never fires) and the interrupt fd (set_interrupt_fd; -1 never fires).
  const int interrupt_fd = g_interrupt_fd;
  zmq::pollitem_t items[] = {{sock_.handle(), 0, ZMQ_POLLIN, 0},
                             {monitor_ ? monitor_->handle() : nullptr, -1, ZMQ_POLLIN, 0},
                             {nullptr, interrupt_fd, ZMQ_POLLIN, 0}};
  timed_out_ = false;
  for (;;) {
    int n;
    try {
      n = zmq::poll(items,
                    interrupt_fd >= 0 ? 3
                    : monitor_        ? 2
                                      : 1,
                    timeout ? *timeout : std::chrono::milliseconds(-1));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) return std::unexpected(std::string("interrupted"));
      throw;
    }
    if (items[2].revents & ZMQ_POLLIN) return std::unexpected(std::string("interrupted"));
    if (n == 0) {
      timed_out_ = true;
      return std::unexpected("the broker did not answer (" + where_ + ")");
    }
    if (monitor_ && (items[1].revents & ZMQ_POLLIN)) {
      // [event id (2 bytes) + value (4 bytes)][endpoint]
      std::vector<zmq::message_t> event;
      (void)zmq::recv_multipart(*monitor_, std::back_inserter(event));
      if (!event.empty() && event[0].size() >= 6) {
        uint16_t id;
        uint32_t value;
        std::memcpy(&id, event[0].data(), 2);
        std::memcpy(&value, static_cast<const char*>(event[0].data()) + 2, 4);
        if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
          return std::unexpected("refused by the broker at " + where_ + " (status " +
                                 std::to_string(value) +
                                 "): this host's key is not authorised there; run `shoal keys "
                                 "add-client KEY` on the broker's host with the key `shoal keys "
                                 "generate` prints here");
        return std::unexpected("refused by the broker at " + where_ +
                               ": the CURVE handshake failed (a wrong SHOAL_SERVER_KEY?)");
      }
      continue;
    }
    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    std::vector<zmq::message_t> parts;
    (void)zmq::recv_multipart(sock_, std::back_inserter(parts));
    if (parts.size() < 3 || parts[0].to_string() != protocol::kVersion)
      return std::unexpected(std::string("a malformed reply from the broker"));
    Reply r;
    r.kind = parts[1].to_string();
    r.body = nlohmann::json::parse(parts[2].to_string(), nullptr, false);
    for (size_t i = 3; i < parts.size(); ++i) r.frames.push_back(parts[i].to_string());
    return r;
  }
}

std::expected<Reply, std::string> Connection::call(protocol::Command command,
                                                   const nlohmann::json& body,
                                                   const std::vector<std::string>& frames) {
  send(command, body, frames);
  auto r = next();
  if (!r) return r;
  if (r->kind == protocol::kError)
    return std::unexpected(r->body.is_object() ? r->body.value("error", "unknown error")
                                               : "unknown error");
  return r;
}

}  // namespace shoal::client
