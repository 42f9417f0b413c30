// Stops a running guest at its deadline.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace v8 {
class Isolate;
}

namespace shoal::worker {

// Starts a thread that calls isolate->TerminateExecution() once `timeout`
// has passed, unless stop() is called first. TerminateExecution is the one
// V8 call that is safe from another thread; V8 checks for it at loop back
// edges and function entries, so even a tight loop stops within
// microseconds of the deadline.
class Watchdog {
 public:
  Watchdog(v8::Isolate* isolate, std::chrono::nanoseconds timeout);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Disarms the watchdog and joins its thread. Returns whether it fired.
  bool stop();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool fired_ = false;
  std::thread thread_;
};

}  // namespace shoal::worker
