// A connection to the user's broker over the client protocol
// (docs/protocol.md), starting the broker when none answers; or, when
// SHOAL_CONNECT=tcp://HOST:PORT is set (`shoal --connect`), to a broker on
// another host over CURVE (docs/remote.md), never starting one.
#pragma once

#include <chrono>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <nlohmann/json.hpp>

#include "host/state_dir.h"
#include "protocol/client_protocol.h"

namespace shoal::client {

struct Reply {
  std::string kind;  // "ok", "error", "log", "state", "end"
  nlohmann::json body;
  std::vector<std::string> frames;
};

// The `shoal` executable that starts brokers: this process when it is
// `shoal`, else the first `shoal` on $PATH.
std::expected<std::string, std::string> shoal_binary();

class Connection {
 public:
  // Connects to the broker of this user's state directory. When none
  // answers and `autostart` is set, starts one in the background (it exits
  // after `idle_exit` without work) and waits until it answers.
  // With SHOAL_CONNECT, connects to that broker with the server key in
  // SHOAL_SERVER_KEY and this host's keys (`shoal keys generate`); fails
  // naming the cause when the key is refused or nothing answers in 5 s.
  static std::expected<std::unique_ptr<Connection>, std::string> open(bool autostart = true);
  // The same for the broker of `dir`; a broker is started by running
  // `shoal_binary serve` (empty: see shoal_binary()). A running broker must
  // answer a ping within `answer_within`.
  static std::expected<std::unique_ptr<Connection>, std::string> open(
      const host::StateDir& dir, bool autostart, const std::string& shoal_binary = "",
      std::chrono::milliseconds answer_within = std::chrono::milliseconds(10000));

  // Sends a request; the replies are read with next().
  void send(protocol::Command command, const nlohmann::json& body,
            const std::vector<std::string>& frames = {});
  // The next reply, or an error message after `timeout` (none: wait forever).
  std::expected<Reply, std::string> next(
      std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  // Whether the last next() failed because its timeout passed.
  bool timed_out() const { return timed_out_; }
  // send() then next(): for commands with one answer. An "error" reply
  // becomes the error.
  std::expected<Reply, std::string> call(protocol::Command command, const nlohmann::json& body,
                                         const std::vector<std::string>& frames = {});

  const host::StateDir& state() const { return dir_; }

 private:
  Connection(host::StateDir dir);
  bool ping(std::chrono::milliseconds timeout);
  static std::expected<std::unique_ptr<Connection>, std::string> open_remote(
      const std::string& endpoint);

  host::StateDir dir_;
  std::string where_;  // for messages: the state directory, or the remote endpoint
  zmq::context_t ctx_;
  zmq::socket_t sock_;
  bool timed_out_ = false;
  std::optional<zmq::socket_t> monitor_;  // remote: handshake failures
};

}  // namespace shoal::client
