// shoal's HTTP API: Bacalhau's v1 REST API (docs/http-api.md), served inside
// `shoal serve` on threads of its own. The server is a client of the broker:
// every request that reads or changes jobs goes through client/client.h over
// the state directory's ipc socket, so the broker's guarantees (a job is
// stored before it is acknowledged, back-pressure, the store's reads) hold
// for HTTP too, and broker/ knows nothing of HTTP.
//
// Threads: one I/O thread runs every connection (Boost.Beast, asynchronous:
// reading a request, writing a response, each with a deadline). A request's
// handler runs on one of a few handler threads, each with its own
// client::Client (a Client is used by one thread at a time), so a request
// that waits on the broker delays no other connection's I/O. Connections
// are capped (ApiOptions::max_connections); past the cap they get 503.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace shoal::api {

inline constexpr size_t kDefaultLogStreams = 32;
inline constexpr size_t kMaxLogStreams = 1024;

struct ApiOptions {
  std::string host = "127.0.0.1";  // address or name to listen on
  uint16_t port = 1234;            // 0: any free port (tests)
  // The bearer token every request must carry (Authorization: Bearer T);
  // empty: none, allowed only on a loopback address.
  std::string token;
  std::string state_dir;  // the broker's state directory (its ipc socket)
  // What /agent/node and /agent/config report about the broker.
  int workers = 0;
  std::map<std::string, std::string> labels;
  uint64_t body_limit = 10ull << 20;  // larger request bodies get 413
  int handler_threads = 4;
  // The most connections open at once, log streams included (0: a quarter
  // of the process's open-file limit, read at each accept, at most
  // kMaxConnections): so that HTTP clients never take the descriptors the
  // broker needs for its store, workers and ZeroMQ clients. A connection
  // past the cap is answered 503 ServiceUnavailable at once and closed.
  size_t max_connections = 0;
  // WebSocket log streams served at once, each on a thread of its own with
  // a broker connection while it follows its job; one more gets an error
  // frame saying so (api/logs.h, refuse_log_stream). At least 1.
  size_t max_log_streams = kDefaultLogStreams;
  // Where the server says what it refused (a burst of connections past the
  // cap, or accept(2) failing), one line each, on the I/O thread; null:
  // stderr.
  std::function<void(const std::string&)> log;
};

inline constexpr size_t kMaxConnections = 4096;

// The cap on connections `options` gives with an open-file limit of
// `fd_limit` (ApiOptions::max_connections).
size_t connection_cap(const ApiOptions& options, uint64_t fd_limit);

// Reads a token file: its text without surrounding whitespace. Fails when the
// file cannot be read or holds no token.
std::expected<std::string, std::string> read_token_file(const std::string& path);

class Server {
 public:
  // Binds host:port and starts serving. Fails, saying why, when the address
  // cannot be bound, or is not a loopback address and no token is set.
  static std::expected<std::unique_ptr<Server>, std::string> start(const ApiOptions& options);
  ~Server();  // stops serving and joins the threads
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const;  // the bound port

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::api
