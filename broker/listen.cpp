// The broker's TCP endpoints (docs/remote.md): the client ROUTER and the
// worker ROUTER also bind a TCP address each, with the CURVE server role and
// a ZAP domain, so that only authorised keys get through. The options are
// set after the ipc endpoints are bound: libzmq copies a socket's options
// into each endpoint when it binds, so the local ipc endpoints stay plain.
#include <charconv>

#include "broker/broker_impl.h"
#include "broker/keys.h"

namespace shoal::broker {
namespace {

// tcp://ADDR:PORT with PORT + 1; empty when `endpoint` has no numeric port.
std::string next_port(const std::string& endpoint) {
  size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return "";
  int port = 0;
  const char* begin = endpoint.data() + colon + 1;
  const char* end = endpoint.data() + endpoint.size();
  auto [p, ec] = std::from_chars(begin, end, port);
  if (ec != std::errc() || p != end || port <= 0 || port >= 65535) return "";
  return endpoint.substr(0, colon + 1) + std::to_string(port + 1);
}

void secure(zmq::socket_t& sock, const Keypair& keys, const char* domain) {
  sock.set(zmq::sockopt::curve_server, true);
  sock.set(zmq::sockopt::curve_secretkey, keys.secret_key);
  sock.set(zmq::sockopt::zap_domain, domain);
  // A peer behind a cut link is noticed and its connection dropped, so it
  // can reconnect when the link returns.
  sock.set(zmq::sockopt::heartbeat_ivl, wire::kHeartbeatMs);
  sock.set(zmq::sockopt::heartbeat_timeout, wire::kHeartbeatMs * wire::kHeartbeatLiveness);
}

}  // namespace

bool Broker::listen_remote() {
  if (opt_.listen.empty() && opt_.listen_workers.empty()) return true;
  auto keys = server_keys(opt_.dir);
  if (!keys) {
    log_->error("cannot listen on TCP: {}", keys.error());
    return false;
  }
  std::string workers = opt_.listen_workers;
  if (workers.empty()) workers = next_port(opt_.listen);
  if (workers.empty()) {
    log_->error("--listen {}: expected tcp://ADDR:PORT (workers use PORT + 1)", opt_.listen);
    return false;
  }
  zap_ = std::make_unique<ZapHandler>(ctx_, opt_.dir, log_);
  secure(clients_, *keys, kClientDomain);
  secure(workers_sock_, *keys, kWorkerDomain);
  // A worker that reconnects after a cut link takes its name back at once.
  workers_sock_.set(zmq::sockopt::router_handover, true);
  for (auto [sock, endpoint] :
       {std::pair{&clients_, opt_.listen}, std::pair{&workers_sock_, workers}}) {
    if (endpoint.empty()) continue;
    try {
      sock->bind(endpoint);
    } catch (const zmq::error_t& e) {
      log_->error("cannot listen on {}: {}", endpoint, e.what());
      return false;
    }
  }
  log_->info("listening for clients on {} and worker pools on {}; server key {}",
             opt_.listen.empty() ? "(ipc only)" : opt_.listen, workers, keys->public_key);
  return true;
}

}  // namespace shoal::broker
