#include "client/connection.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <thread>

#include "broker/client_protocol.h"

extern char** environ;

namespace shoal::client {
namespace {

// How long an auto-started broker waits without work before it exits:
// $SHOAL_IDLE_EXIT seconds, else ten minutes.
std::string auto_idle_exit() {
  const char* v = std::getenv("SHOAL_IDLE_EXIT");
  return v && *v ? v : "600";
}

std::expected<void, std::string> start_broker(const broker::StateDir& dir) {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return std::unexpected("cannot find shoal's own executable: " + ec.message());
  if (auto r = broker::prepare(dir); !r) return std::unexpected(r.error());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, dir.log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT,
                                   0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::string exe = self.string();
  std::string idle = auto_idle_exit();
  std::vector<char*> argv = {const_cast<char*>("shoal"), const_cast<char*>("serve"),
                             const_cast<char*>("--idle-exit"), idle.data(), nullptr};
  pid_t pid;
  int rc = ::posix_spawn(&pid, exe.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return std::unexpected("cannot start the broker: " + std::string(std::strerror(rc)));
  return {};
}

}  // namespace

Connection::Connection(broker::StateDir dir)
    : dir_(std::move(dir)), sock_(ctx_, zmq::socket_type::dealer) {
  sock_.set(zmq::sockopt::linger, 0);
  sock_.connect(dir_.client_endpoint());
}

bool Connection::ping(std::chrono::milliseconds timeout) {
  send("ping", nlohmann::json::object());
  auto r = next(timeout);
  return r && r->kind == protocol::kOk;
}

std::expected<std::unique_ptr<Connection>, std::string> Connection::open(bool autostart) {
  broker::StateDir dir = broker::state_dir();
  struct stat st;
  // Another user's state directory: say so, rather than "no broker".
  if (::access(dir.run_dir.c_str(), X_OK) != 0 && errno == EACCES)
    return std::unexpected("cannot reach the broker for " + dir.root + ": " + dir.run_dir +
                           ": Permission denied");
  // The broker holds an exclusive lock on run/broker.lock while it lives, so
  // a stale socket is not mistaken for a broker.
  if (broker::broker_running(dir)) {
    std::unique_ptr<Connection> c(new Connection(dir));
    if (c->ping(std::chrono::milliseconds(10000))) return c;
    return std::unexpected("the broker for " + dir.root + " is running but does not answer; see " +
                           dir.log_file);
  }
  if (!autostart)
    return std::unexpected("no broker is running for " + dir.root +
                           " (start one with shoal serve)");
  if (auto r = start_broker(dir); !r) return std::unexpected(r.error());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (::stat(dir.client_socket_path().c_str(), &st) == 0) {
      std::unique_ptr<Connection> c(new Connection(dir));
      if (c->ping(std::chrono::milliseconds(500))) return c;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::unexpected("the broker did not start; see " + dir.log_file);
}

void Connection::send(const std::string& command, const nlohmann::json& body,
                      const std::vector<std::string>& frames) {
  sock_.send(zmq::buffer(std::string_view(protocol::kVersion)), zmq::send_flags::sndmore);
  sock_.send(zmq::buffer(command), zmq::send_flags::sndmore);
  std::string b = body.dump();
  sock_.send(zmq::buffer(b), frames.empty() ? zmq::send_flags::none : zmq::send_flags::sndmore);
  for (size_t i = 0; i < frames.size(); ++i)
    sock_.send(zmq::buffer(frames[i]),
               i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
}

std::expected<Reply, std::string> Connection::next(
    std::optional<std::chrono::milliseconds> timeout) {
  zmq::pollitem_t item{sock_.handle(), 0, ZMQ_POLLIN, 0};
  for (;;) {
    int n;
    try {
      n = zmq::poll(&item, 1, timeout ? *timeout : std::chrono::milliseconds(-1));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) return std::unexpected(std::string("interrupted"));
      throw;
    }
    if (n == 0) return std::unexpected("the broker did not answer (" + dir_.root + ")");
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

std::expected<Reply, std::string> Connection::call(const std::string& command,
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
