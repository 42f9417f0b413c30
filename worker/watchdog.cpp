#include "worker/watchdog.h"

#include <v8.h>

namespace shoal::worker {

Watchdog::Watchdog(v8::Isolate* isolate, std::chrono::nanoseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  thread_ = std::thread([this, isolate, deadline] {
    std::unique_lock lock(mu_);
    if (cv_.wait_until(lock, deadline, [this] { return stopping_; })) return;
    fired_ = true;
    isolate->TerminateExecution();
  });
}

Watchdog::~Watchdog() {
  stop();
}

bool Watchdog::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  return fired_;
}

}  // namespace shoal::worker
