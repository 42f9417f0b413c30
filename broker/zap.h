// The broker's ZAP handler (ZeroMQ RFC 27): decides which CURVE peers may
// connect to its TCP endpoints. A client endpoint is given the ZAP domain
// "clients", a worker endpoint "workers"; a peer is accepted when its public
// key is authorised for that role in the state directory (host/keys.h),
// read afresh at each handshake. Everything else is refused with status 400
// and logged with the peer's address. Local ipc endpoints never reach it.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <memory>
#include <thread>
#include <zmq.hpp>

#include "host/state_dir.h"

namespace shoal::broker {

inline constexpr char kClientDomain[] = "clients";
inline constexpr char kWorkerDomain[] = "workers";

class ZapHandler {
 public:
  // Binds inproc://zeromq.zap.01 in `ctx` (so it must exist before any
  // CURVE socket of `ctx` accepts) and answers on a thread of its own until
  // destroyed.
  ZapHandler(zmq::context_t& ctx, host::StateDir dir, std::shared_ptr<spdlog::logger> log);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

 private:
  void loop();

  zmq::socket_t sock_;
  host::StateDir dir_;
  std::shared_ptr<spdlog::logger> log_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace shoal::broker
