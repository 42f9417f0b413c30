// What a guest writes to stdout and stderr, on its way from the thread
// that runs the job to the broker.
//
// The running job appends; the worker's watch thread takes, every few
// milliseconds while the job runs, and the thread that ran it takes once
// more when it ends, just before `done` (worker/serve.cpp; both take and
// send while holding the socket's mutex, so chunks leave in order). So a
// trivial job's output travels with its end instead of waking a thread
// (and the broker) once more, and a program that writes line by line
// costs one message per chunk, not one per line: consecutive writes to one
// stream share a chunk, up to kMaxChunk bytes (the broker's per-client
// queues count messages, so a chunk's size bounds what a slow client can
// cost). Order is kept across streams.
//
// At most kMaxHeld bytes wait: past that, append() asks for them to be
// taken now (`nudge`) and waits until they have been.
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "protocol/worker_protocol.h"

namespace shoal::worker {

class LogQueue {
 public:
  static constexpr size_t kMaxChunk = 64 * 1024;
  static constexpr size_t kMaxHeld = 1 << 20;

  // `nudge` is called on the appending thread when the queue is full.
  explicit LogQueue(std::function<void()> nudge, size_t max_held = kMaxHeld)
      : nudge_(std::move(nudge)), max_held_(max_held) {}

  void append(const std::string& exec_id, uint8_t stream, std::span<const uint8_t> data);
  // Everything appended so far, oldest first; empties the queue.
  std::vector<wire::Log> take();

 private:
  std::function<void()> nudge_;
  size_t max_held_;
  std::mutex mu_;
  std::condition_variable taken_;
  std::deque<wire::Log> chunks_;
  size_t held_ = 0;
};

}  // namespace shoal::worker
