// Replies to clients and the back-pressure on them.
//
// A reply goes straight into the client's ZeroMQ queue while there is room
// (kClientQueue messages). When the queue is full (the client reads slower
// than the broker writes, or not at all) replies wait in order in its
// backlog, up to kBacklogBytes; past that, log chunks and state messages are
// dropped (counted in the `end` message's `logs_dropped`), and the final
// replies (`ok`, `error`, `end`) still wait, so that a follower always gets
// its `end`. All backlogs together hold at most kBacklogTotalBytes of
// streamed messages (final replies: twice that). A client that is gone is
// reported to the owner, which forgets what it kept for it.
//
// Not thread-safe: the broker's loop owns it and the socket.
#pragma once

#include <spdlog/logger.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace shoal::broker {

// One reply: [identity][protocol][kind][body][frames...].
struct Outgoing {
  std::string identity;
  std::string kind;
  nlohmann::json body;
  std::vector<std::string> frames;
  // The job a `state` or `end` message is about, or "".
  std::string job_id;
  // The job's JSON already written (jobs::to_json_text), sent instead of
  // `body` when not empty.
  std::string text;
  // The jobs whose submission this `ok` acknowledges (one, or every task of
  // an array), or none: the replies a failed commit turns into errors.
  std::vector<std::string> acknowledges;
};

class Replies {
 public:
  // `on_gone(identity)`: a client to whom nothing can be sent any more.
  Replies(zmq::socket_t& clients, spdlog::logger& log,
          std::function<void(const std::string&)> on_gone);

  // Sends `o`, or keeps it in its client's backlog; never blocks.
  void post(Outgoing o);
  // Sends what the backlogs hold, as far as their clients take it.
  void drain();
  // Drops what is kept for `identity`.
  void forget(const std::string& identity);

  // Whether some client has replies waiting in its backlog.
  bool any_waiting() const { return !backlogs_.empty(); }
  // Whether `identity` has a backlog (it has not taken what was sent).
  bool waiting(const std::string& identity) const { return backlogs_.contains(identity); }
  // The bytes of replies `identity` has not taken yet.
  uint64_t held(const std::string& identity) const;

  // Replies queued in ZeroMQ per client (the socket's send high-water mark).
  // A queue holds messages, not bytes: with log chunks of up to 64 KiB (and
  // `output` parts of up to kOutputPart), 100 messages bound what one client
  // that does not read can hold in ZeroMQ's memory.
  static constexpr int kClientQueue = 100;

 private:
  enum class Delivery { sent, full, gone };
  Delivery deliver(const Outgoing& o);

  struct Backlog {
    std::deque<Outgoing> queue;
    uint64_t bytes = 0;
    uint64_t logs_dropped = 0;  // log bytes dropped while over the cap
    uint64_t peak = 0;          // the most bytes it held
  };
  zmq::socket_t& clients_;
  spdlog::logger& log_;
  std::function<void(const std::string&)> on_gone_;
  std::map<std::string, Backlog> backlogs_;  // by client identity
  uint64_t backlog_bytes_ = 0;               // held in all backlogs together
};

}  // namespace shoal::broker
