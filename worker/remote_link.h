// A pool worker on another host than its broker (`shoal worker`, docs/remote.md):
// the flags `shoal-worker serve` takes for it, and the CURVE client setup of
// its connection. Without --server-key the worker is local (ipc, plain).
#pragma once

#include <CLI/CLI.hpp>
#include <expected>
#include <map>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace shoal::worker {

struct RemoteOptions {
  std::string server_key;  // the broker's public key (Z85)
  std::string key_file;    // this host's secret key (Z85), e.g. STATE/keys/identity.key
  std::string work_dir;    // the pool's directory: modules/ (the cache), scratch/
  std::string host;        // the pool's name, "<hostname>-<pid>"
  std::vector<std::string> label_flags;  // key=value
  std::map<std::string, std::string> labels;
  bool remote() const { return !server_key.empty(); }
};

void add_remote_options(CLI::App& app, RemoteOptions& options);

// For a remote worker: reads the key file, parses the labels, and makes
// `sock` a CURVE client of the broker with ZeroMQ heartbeats (a cut link is
// noticed and reconnected). Does nothing for a local worker. Fails naming
// the key file or the label that is wrong.
std::expected<void, std::string> secure_link(zmq::socket_t& sock, RemoteOptions& options);

}  // namespace shoal::worker
