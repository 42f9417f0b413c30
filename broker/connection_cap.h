// Bounds the connections of the broker's ROUTER sockets (docs/remote.md,
// "Limits"). libzmq accepts every connection its listener gets and has no
// option to cap them, and a peer that never completes the CURVE handshake
// keeps its file descriptor until ZMQ_HANDSHAKE_IVL drops it: a flood of
// plain TCP connects would take the broker's descriptors, and libzmq aborts
// when it cannot accept a local client for want of one.
//
// A socket monitor reports each accepted connection with its descriptor
// (ZMQ_EVENT_ACCEPTED) and each one that ends (ZMQ_EVENT_DISCONNECTED).
// When a watched socket holds more than its cap of TCP connections, the
// oldest connection whose CURVE handshake has not succeeded is shut down
// (shutdown(2): libzmq sees the peer leave and closes it), so that
// authorised peers keep their connections and a new one can still get in
// during a flood. Whether the handshake succeeded is read from the kernel:
// the broker's side of a CURVE handshake sends its greeting and WELCOME
// before the ZAP handler decides, and READY only to a peer it accepted, so
// a connection whose peer acknowledged more bytes than greeting and WELCOME
// has been authorised. Only when every connection is authorised is the new
// one shut down instead. Local (ipc) connections have a cap of their own,
// past which the newest is shut down: the broker's own user is no attacker,
// but a runaway script must not take the descriptors either (libzmq aborts
// when accept(2) on an ipc endpoint fails with EMFILE). A burst of
// shut-downs is logged when it starts and when it ends (nothing for 5 s),
// once each.
//
// Threading: start() is called on the thread that owns the sockets, before
// their TCP endpoints bind. The events are read on a thread of the
// ConnectionCap's own; the destructor (on the owning thread, before the
// watched sockets close) stops the monitors first, then that thread, so
// that libzmq never blocks on a monitor nobody reads.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

namespace shoal::broker {

// Raises the soft limit on open files to the hard limit; returns the soft
// limit before and after.
struct FdLimit {
  uint64_t before = 0, after = 0;
};
FdLimit raise_fd_limit();

// The soft limit on open files now.
uint64_t fd_limit();

// The default cap on TCP connections per socket for an open-file limit:
// both TCP sockets together use at most a quarter of the descriptors, so
// that the store, the workers, the local clients and URL fetches keep the
// rest. At most kMaxTcpConnections.
inline constexpr size_t kMaxTcpConnections = 4096;
size_t default_tcp_connections(uint64_t fd_limit);
// Local (ipc) connections kept: half the limit on the client socket, an
// eighth on the worker socket (the local workers); the last eighth is for
// the store, the log, the workers' pipes and URL fetches.
inline uint64_t local_client_connections(uint64_t fd_limit) {
  return fd_limit / 2;
}
inline uint64_t local_worker_connections(uint64_t fd_limit) {
  return fd_limit / 8;
}

class ConnectionCap {
 public:
  struct Target {
    zmq::socket_t* socket;
    std::string name;  // for the log: "the client endpoint"
    size_t cap;        // TCP connections kept at most
    size_t local_cap;  // ipc connections kept at most
  };
  // Watches each target's connections from now on: called on the thread
  // that owns the sockets, before their TCP endpoints bind. Fails when a
  // monitor cannot be set up.
  static std::expected<std::unique_ptr<ConnectionCap>, std::string> start(
      zmq::context_t& ctx, std::shared_ptr<spdlog::logger> log, const std::vector<Target>& targets);
  ~ConnectionCap();
  ConnectionCap(const ConnectionCap&) = delete;
  ConnectionCap& operator=(const ConnectionCap&) = delete;

 private:
  struct Burst;
  struct Watched;
  explicit ConnectionCap(std::shared_ptr<spdlog::logger> log);
  void loop();
  void on_event(Watched& w, uint16_t event, int fd, const std::string& endpoint);
  void make_room(Watched& w, int newest);
  void closed_one(Watched& w, Burst& burst, const char* kind);

  std::shared_ptr<spdlog::logger> log_;
  std::vector<std::unique_ptr<Watched>> watched_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace shoal::broker
