// Waiting for a condition in a test: polled until it holds or a deadline
// passes, never a fixed sleep.
#pragma once

#include <chrono>
#include <thread>

namespace shoal::test {

// Polls `holds` every `interval` until it returns true (then true) or
// `deadline` has passed (then false, after one last look).
template <class Pred>
bool wait_until(Pred&& holds, std::chrono::milliseconds deadline = std::chrono::seconds(20),
                std::chrono::milliseconds interval = std::chrono::milliseconds(20)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!holds()) {
    if (std::chrono::steady_clock::now() >= end) return holds();
    std::this_thread::sleep_for(interval);
  }
  return true;
}

}  // namespace shoal::test
