#include "broker/connection_cap.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <deque>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <zmq_addon.hpp>

namespace shoal::broker {
namespace {

using Clock = std::chrono::steady_clock;

// What the broker's side of a CURVE handshake sends before the ZAP handler
// has accepted the peer: the ZMTP greeting (64 bytes) and WELCOME (a
// 168-byte command behind a 2-byte frame header). READY, sent only to an
// accepted peer, takes it past this.
constexpr uint64_t kBeforeReady = 64 + 2 + 168;

// A burst of shut-downs ends when none came for this long.
constexpr auto kBurstQuiet = std::chrono::seconds(5);

enum class Peer { pending, authorised, not_ours };

// The local port of socket `fd`, or -1 when it is not an inet socket.
int local_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return -1;
}

// Where connection `fd` stands; not_ours when the descriptor is no longer a
// TCP connection to one of `ports` (it was closed, and maybe reused, before
// its end was reported).
Peer peer_of(int fd, const std::set<int>& ports) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return Peer::not_ours;
  if (!ports.contains(local_port(fd))) return Peer::not_ours;
  if (len >= offsetof(tcp_info, tcpi_bytes_acked) + sizeof info.tcpi_bytes_acked &&
      info.tcpi_bytes_acked > kBeforeReady)
    return Peer::authorised;
  return Peer::pending;
}

// The port of "tcp://ADDR:PORT", or -1.
int port_of(const std::string& endpoint) {
  size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return -1;
  int port = -1;
  const char* end = endpoint.data() + endpoint.size();
  auto [p, ec] = std::from_chars(endpoint.data() + colon + 1, end, port);
  return ec == std::errc() && p == end ? port : -1;
}

}  // namespace

FdLimit raise_fd_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return {};
  FdLimit out{r.rlim_cur, r.rlim_cur};
  if (r.rlim_cur < r.rlim_max) {
    rlimit raised = r;
    raised.rlim_cur = r.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) out.after = r.rlim_max;
  }
  return out;
}

uint64_t fd_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return 1024;
  return r.rlim_cur;
}

size_t default_tcp_connections(uint64_t limit) {
  return static_cast<size_t>(std::clamp<uint64_t>(limit / 8, 16, kMaxTcpConnections));
}

// Shut-downs that come close together, logged as one burst.
struct ConnectionCap::Burst {
  uint64_t shut = 0;
  Clock::time_point start, last;
};

struct ConnectionCap::Watched {
  explicit Watched(zmq::context_t& ctx) : monitor(ctx, zmq::socket_type::pair) {}
  zmq::socket_t* socket = nullptr;
  std::string name;
  size_t cap = 0;
  size_t local_cap = 0;
  zmq::socket_t monitor;  // PAIR, read on the cap's thread
  std::set<int> ports;    // of its TCP endpoints, as accepted connections report them
  std::unordered_map<int, uint64_t> open;  // TCP connections: fd -> accept number
  // Connections not yet seen authorised, oldest first; an entry whose fd
  // has ended, or was reused (another accept number), is skipped.
  std::deque<std::pair<int, uint64_t>> unproven;
  uint64_t accepted = 0;
  std::unordered_set<int> local;  // ipc connections
  Burst tcp_burst, local_burst;
};

ConnectionCap::ConnectionCap(std::shared_ptr<spdlog::logger> log) : log_(std::move(log)) {}

std::expected<std::unique_ptr<ConnectionCap>, std::string> ConnectionCap::start(
    zmq::context_t& ctx, std::shared_ptr<spdlog::logger> log, const std::vector<Target>& targets) {
  std::unique_ptr<ConnectionCap> cap(new ConnectionCap(std::move(log)));
  static std::atomic<int> serial{0};
  for (const Target& t : targets) {
    std::string endpoint = "inproc://shoal-connection-cap-" + std::to_string(++serial);
    if (::zmq_socket_monitor(t.socket->handle(), endpoint.c_str(),
                             ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED) != 0)
      return std::unexpected("cannot watch the connections of " + t.name + ": " +
                             zmq_strerror(zmq_errno()));
    auto w = std::make_unique<Watched>(ctx);
    w->socket = t.socket;
    w->name = t.name;
    w->cap = t.cap;
    w->local_cap = t.local_cap;
    w->monitor.set(zmq::sockopt::linger, 0);
    w->monitor.connect(endpoint);
    cap->watched_.push_back(std::move(w));
  }
  cap->thread_ = std::thread([c = cap.get()] { c->loop(); });
  return cap;
}

ConnectionCap::~ConnectionCap() {
  // The monitors stop first, while the thread still reads them: libzmq
  // sends an event from its I/O thread with a lock held, and blocks while
  // the monitor's queue is full.
  for (auto& w : watched_) ::zmq_socket_monitor(w->socket->handle(), nullptr, 0);
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ConnectionCap::loop() {
  std::vector<zmq::pollitem_t> items;
  for (auto& w : watched_) items.push_back({w->monitor.handle(), 0, ZMQ_POLLIN, 0});
  while (!stop_) {
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(200));
    } catch (const zmq::error_t&) {
      continue;  // EINTR
    }
    for (size_t i = 0; i < watched_.size(); ++i) {
      Watched& w = *watched_[i];
      // Every event waiting, so that a flood is answered as fast as it comes.
      for (;;) {
        std::vector<zmq::message_t> event;
        if (!zmq::recv_multipart(w.monitor, std::back_inserter(event), zmq::recv_flags::dontwait))
          break;
        if (event.size() != 2 || event[0].size() != 6) continue;
        uint16_t id;
        uint32_t value;
        std::memcpy(&id, event[0].data(), 2);
        std::memcpy(&value, static_cast<const char*>(event[0].data()) + 2, 4);
        on_event(w, id, static_cast<int>(value), event[1].to_string());
      }
      for (auto [burst, kind, cap] : {std::tuple{&w.tcp_burst, "TCP", w.cap},
                                      std::tuple{&w.local_burst, "local", w.local_cap}}) {
        if (burst->shut && Clock::now() - burst->last > kBurstQuiet) {
          log_->warn("{}: closed {} {} connections past the cap of {} in {:.1f} s", w.name,
                     burst->shut, kind, cap,
                     std::chrono::duration<double>(burst->last - burst->start).count());
          burst->shut = 0;
        }
      }
    }
  }
}

void ConnectionCap::on_event(Watched& w, uint16_t event, int fd, const std::string& endpoint) {
  if (event == ZMQ_EVENT_ACCEPTED && endpoint.starts_with("ipc://")) {
    w.local.insert(fd);
    if (w.local.size() <= w.local_cap) return;
    // Local clients are the broker's own user: the newest goes, with no
    // questions, so that the broker keeps descriptors to accept with.
    int domain = 0;
    socklen_t len = sizeof domain;
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_UNIX)
      ::shutdown(fd, SHUT_RDWR);
    w.local.erase(fd);
    closed_one(w, w.local_burst, "local");
    return;
  }
  if (event == ZMQ_EVENT_ACCEPTED) {
    if (!endpoint.starts_with("tcp://")) return;
    if (int port = port_of(endpoint); port > 0) w.ports.insert(port);
    w.open[fd] = ++w.accepted;
    w.unproven.emplace_back(fd, w.accepted);
    // Connections come and go below the cap too: drop the ended ones.
    if (w.unproven.size() > 2 * w.cap + 64)
      std::erase_if(w.unproven, [&](const auto& u) {
        auto it = w.open.find(u.first);
        return it == w.open.end() || it->second != u.second;
      });
    if (w.open.size() > w.cap) make_room(w, fd);
    return;
  }
  // DISCONNECTED or CLOSED: libzmq reports the end before it closes the fd.
  w.open.erase(fd);
  w.local.erase(fd);
}

void ConnectionCap::make_room(Watched& w, int newest) {
  while (!w.unproven.empty()) {
    auto [fd, number] = w.unproven.front();
    w.unproven.pop_front();
    auto it = w.open.find(fd);
    if (it == w.open.end() || it->second != number) continue;
    switch (peer_of(fd, w.ports)) {
      case Peer::not_ours:
        w.open.erase(it);  // its end went unreported; nothing to shut
        if (w.open.size() <= w.cap) return;
        continue;
      case Peer::authorised:
        continue;  // kept, and not looked at again
      case Peer::pending:
        ::shutdown(fd, SHUT_RDWR);
        w.open.erase(it);
        closed_one(w, w.tcp_burst, "TCP");
        return;
    }
  }
  // Every connection is an authorised peer's: the newest one goes.
  log_->debug("{}: {} authorised peers are connected, the cap; closing the newest connection",
              w.name, w.cap);
  if (peer_of(newest, w.ports) != Peer::not_ours) ::shutdown(newest, SHUT_RDWR);
  w.open.erase(newest);
  closed_one(w, w.tcp_burst, "TCP");
}

void ConnectionCap::closed_one(Watched& w, Burst& burst, const char* kind) {
  auto now = Clock::now();
  if (burst.shut == 0) {
    burst.start = now;
    if (&burst == &w.tcp_burst)
      log_->warn(
          "{}: more than {} TCP connections; closing the oldest that have not completed a CURVE "
          "handshake (a flood of unauthenticated connections?)",
          w.name, w.cap);
    else
      log_->warn("{}: more than {} {} connections; closing new ones until some end", w.name,
                 w.local_cap, kind);
  }
  ++burst.shut;
  burst.last = now;
}

}  // namespace shoal::broker
