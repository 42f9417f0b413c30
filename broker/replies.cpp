#include "broker/replies.h"

#include <malloc.h>

#include <algorithm>

#include "protocol/client_protocol.h"
#include "protocol/units.h"

namespace shoal::broker {
namespace {

constexpr uint64_t kBacklogBytes = 160ull << 20;
// All backlogs together: past this, streamed messages are dropped for
// every client that is behind (counted), and final replies past twice it.
constexpr uint64_t kBacklogTotalBytes = 256ull << 20;
// A backlog that held more than this gives its memory back to the system,
// not just to malloc, when it empties.
constexpr uint64_t kLargeBacklog = 16u << 20;

// A reply body as text. Bodies may quote what a client sent (an unknown
// version or command), which need not be UTF-8: invalid bytes become U+FFFD
// instead of an exception that would end the broker.
std::string dump(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

uint64_t size_of(const Outgoing& o) {
  uint64_t size = o.text.empty() ? dump(o.body).size() : o.text.size();
  for (const auto& f : o.frames) size += f.size();
  return size;
}

}  // namespace

Replies::Replies(zmq::socket_t& clients, spdlog::logger& log,
                 std::function<void(const std::string&)> on_gone)
    : clients_(clients), log_(log), on_gone_(std::move(on_gone)) {}

uint64_t Replies::held(const std::string& identity) const {
  auto b = backlogs_.find(identity);
  return b == backlogs_.end() ? 0 : b->second.bytes;
}

void Replies::post(Outgoing o) {
  auto b = backlogs_.find(o.identity);
  if (b == backlogs_.end()) {
    switch (deliver(o)) {
      case Delivery::sent:
        return;
      case Delivery::gone:
        on_gone_(o.identity);
        return;
      case Delivery::full:
        b = backlogs_.emplace(o.identity, Backlog{}).first;
    }
  }
  Backlog& backlog = b->second;
  uint64_t size = size_of(o);
  bool streamed = o.kind == protocol::kLog || o.kind == protocol::kState;
  // Final replies may go past the caps, up to twice them: a client that
  // sends requests without ever reading loses even those.
  const uint64_t times = streamed ? 1 : 2;
  if (backlog.bytes + size > times * kBacklogBytes ||
      backlog_bytes_ + size > times * kBacklogTotalBytes) {
    if (o.kind == protocol::kLog) backlog.logs_dropped += size;
    if (!streamed)
      log_.warn(
          "dropped a '{}' reply of {} to a client that does not read ({} held for it, {} "
          "for all)",
          o.kind, units::format_bytes(size), units::format_bytes(backlog.bytes),
          units::format_bytes(backlog_bytes_));
    return;
  }
  if (o.kind == protocol::kEnd && backlog.logs_dropped) {
    if (!o.text.empty()) o.body = nlohmann::json::parse(std::exchange(o.text, {}));
    o.body["logs_dropped"] = backlog.logs_dropped;
    backlog.logs_dropped = 0;
  }
  backlog.bytes += size;
  backlog_bytes_ += size;
  backlog.peak = std::max(backlog.peak, backlog.bytes);
  backlog.queue.push_back(std::move(o));
}

Replies::Delivery Replies::deliver(const Outgoing& o) {
  try {
    // ROUTER_MANDATORY: a full queue is EAGAIN (nothing sent), a peer that
    // is gone EHOSTUNREACH. Once the first frame is in, the rest follow.
    if (!clients_.send(zmq::buffer(o.identity),
                       zmq::send_flags::sndmore | zmq::send_flags::dontwait))
      return Delivery::full;
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) return Delivery::gone;
    throw;
  }
  clients_.send(zmq::buffer(std::string_view(protocol::kVersion)), zmq::send_flags::sndmore);
  clients_.send(zmq::buffer(o.kind), zmq::send_flags::sndmore);
  const std::string body = o.text.empty() ? dump(o.body) : std::string();
  clients_.send(zmq::buffer(o.text.empty() ? body : o.text),
                o.frames.empty() ? zmq::send_flags::none : zmq::send_flags::sndmore);
  for (size_t i = 0; i < o.frames.size(); ++i)
    clients_.send(zmq::buffer(o.frames[i]),
                  i + 1 < o.frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  return Delivery::sent;
}

void Replies::drain() {
  for (auto b = backlogs_.begin(); b != backlogs_.end();) {
    Backlog& backlog = b->second;
    Delivery d = Delivery::sent;
    while (!backlog.queue.empty()) {
      d = deliver(backlog.queue.front());
      if (d != Delivery::sent) break;
      const uint64_t sent = std::min(backlog.bytes, size_of(backlog.queue.front()));
      backlog.bytes -= sent;
      backlog_bytes_ -= std::min(backlog_bytes_, sent);
      backlog.queue.pop_front();
    }
    if (d == Delivery::gone) {
      std::string identity = b->first;
      ++b;
      on_gone_(identity);
    } else if (backlog.queue.empty() && backlog.logs_dropped == 0) {
      bool large = backlog.peak > kLargeBacklog;
      b = backlogs_.erase(b);
      if (large) ::malloc_trim(0);
    } else {
      ++b;
    }
  }
}

void Replies::forget(const std::string& identity) {
  if (auto b = backlogs_.find(identity); b != backlogs_.end()) {
    backlog_bytes_ -= std::min(backlog_bytes_, b->second.bytes);
    const bool large = b->second.peak > kLargeBacklog;
    backlogs_.erase(b);
    if (large) ::malloc_trim(0);
  }
}

}  // namespace shoal::broker
