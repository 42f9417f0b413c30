// The broker's TCP endpoints (docs/remote.md): the client ROUTER and the
// worker ROUTER also bind a TCP address each, with the CURVE server role and
// a ZAP domain, so that only authorised keys get through. The options are
// set after the ipc endpoints are bound: libzmq copies a socket's options
// into each endpoint when it binds, so the local ipc endpoints stay plain.
// Each TCP endpoint keeps a bounded number of connections (connection_cap.h),
// and a peer has kHandshakeMs to complete its handshake.
#include <charconv>

#include "broker/broker_impl.h"
#include "broker/serve_config.h"
#include "host/keys.h"

namespace shoal::broker {
namespace {

// How long a TCP peer has to complete the CURVE handshake (ZMQ_HANDSHAKE_IVL;
// libzmq's default is 30 s): a connection that never does holds a file
// descriptor until then.
constexpr int kHandshakeMs = 5000;

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

void secure(zmq::socket_t& sock, const host::Keypair& keys, const char* domain) {
  sock.set(zmq::sockopt::curve_server, true);
  sock.set(zmq::sockopt::curve_secretkey, keys.secret_key);
  sock.set(zmq::sockopt::zap_domain, domain);
  sock.set(zmq::sockopt::handshake_ivl, kHandshakeMs);
  // A peer behind a cut link is noticed and its connection dropped, so it
  // can reconnect when the link returns.
  sock.set(zmq::sockopt::heartbeat_ivl, wire::kHeartbeatMs);
  sock.set(zmq::sockopt::heartbeat_timeout, wire::kHeartbeatMs * wire::kHeartbeatLiveness);
}

}  // namespace

bool Broker::listen_remote() {
  auto access = InputAccess::make(opt_.dir, opt_.data_roots);
  if (!access) {
    log_->error("{}", access.error());
    return false;
  }
  input_access_ = std::move(*access);
  // The connections each socket keeps (connection_cap.h), from the limit on
  // open files that run_broker raised.
  const uint64_t limit = fd_limit();
  const uint64_t most = std::max<uint64_t>(limit / 8, 16);
  if (opt_.tcp_connections > most) {
    log_->error(
        "--tcp-connections {}: too many for the open-file limit of {} (at most {} per endpoint, "
        "an eighth of it)",
        opt_.tcp_connections, limit, most);
    return false;
  }
  const size_t cap = opt_.tcp_connections ? opt_.tcp_connections : default_tcp_connections(limit);
  auto watched = ConnectionCap::start(
      ctx_, log_,
      {{&clients_, "the client endpoint", cap, local_client_connections(limit)},
       {&workers_sock_, "the worker endpoint", cap, local_worker_connections(limit)}});
  if (!watched) {
    log_->error("{}", watched.error());
    return false;
  }
  connection_cap_ = std::move(*watched);
  if (!opt_.listen.empty() || !opt_.listen_workers.empty()) {
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
    worker_tcp_ = workers;
    log_->info(
        "listening for clients on {} and worker pools on {}; server key {}; at most {} "
        "connections each (open-file limit {})",
        opt_.listen.empty() ? "(ipc only)" : opt_.listen, workers, keys->public_key, cap, limit);
  }
  if (!input_access_->data_roots().empty()) {
    std::string roots;
    for (const auto& r : input_access_->data_roots()) roots += (roots.empty() ? "" : ", ") + r;
    log_->info("clients over TCP may name inputs in {}", roots);
  }
  if (!opt_.config_to_store.empty()) {
    if (auto stored = store_serve_config(opt_.dir, opt_.config_to_store); !stored) {
      log_->error("{}", stored.error());
      return false;
    }
    log_->info("stored the serve configuration in {}; a broker started without flags uses it",
               serve_config_path(opt_.dir));
  }
  return true;
}

}  // namespace shoal::broker
