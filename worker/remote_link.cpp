#include "worker/remote_link.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <fstream>

#include "protocol/worker_protocol.h"

namespace shoal::worker {

void add_remote_options(CLI::App& app, RemoteOptions& o) {
  app.add_option("--server-key", o.server_key, "The remote broker's public key (remote workers)");
  app.add_option("--key-file", o.key_file, "This host's secret key file (remote workers)");
  app.add_option("--work-dir", o.work_dir, "Module cache and scratch space (remote workers)");
  app.add_option("--host", o.host, "The pool's name (remote workers)");
  app.add_option("--label", o.label_flags, "A label key=value (remote workers)");
}

std::expected<void, std::string> secure_link(zmq::socket_t& sock, RemoteOptions& o) {
  if (!o.remote()) return {};
  // A remote worker's pool supervises it; it must not outlive the pool.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() == 1) return std::unexpected(std::string("its pool is gone"));
  if (o.key_file.empty() || o.work_dir.empty())
    return std::unexpected(std::string("--server-key needs --key-file and --work-dir"));
  std::ifstream in(o.key_file);
  std::string secret;
  std::getline(in, secret);
  char pub[41];
  if (secret.size() != 40 || zmq_curve_public(pub, secret.c_str()) != 0)
    return std::unexpected(o.key_file + " does not hold a CURVE secret key");
  if (o.server_key.size() != 40)
    return std::unexpected("--server-key " + o.server_key +
                           ": not a CURVE public key (40 characters of Z85)");
  for (const auto& f : o.label_flags) {
    size_t eq = f.find('=');
    o.labels[f.substr(0, eq)] = eq == std::string::npos ? "" : f.substr(eq + 1);
  }
  try {
    sock.set(zmq::sockopt::curve_serverkey, o.server_key);
    sock.set(zmq::sockopt::curve_publickey, std::string(pub));
    sock.set(zmq::sockopt::curve_secretkey, secret);
  } catch (const zmq::error_t& e) {
    return std::unexpected(std::string("cannot use these CURVE keys: ") + e.what());
  }
  sock.set(zmq::sockopt::heartbeat_ivl, wire::kHeartbeatMs);
  sock.set(zmq::sockopt::heartbeat_timeout, wire::kHeartbeatMs * wire::kHeartbeatLiveness);
  sock.set(zmq::sockopt::sndhwm, 100000);
  return {};
}

}  // namespace shoal::worker
