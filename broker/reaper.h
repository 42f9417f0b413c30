// Removes directory trees on a thread of its own, so that the broker's loop
// never waits while a job's million output files are deleted. A tree is
// first renamed into the reaper's directory (one rename, on the loop), then
// removed there (tree::remove_all). What is left at exit, or by a broker
// that died, is removed by the next reaper on the same directory.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <expected>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace shoal::broker {

class Reaper {
 public:
  // `dir`: where doomed trees wait (made if missing; on the same file
  // system as every path given to discard). Anything already in it is
  // queued for removal. `warn` is called from the reaper's thread with a
  // tree that could not be removed, and why.
  Reaper(std::string dir, std::function<void(const std::string&)> warn);
  ~Reaper();  // stops after the entry being removed; the rest waits for the next start
  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;

  // Moves `path` out of the way at once and removes it later. A missing
  // path is no error; the error names `path` and the cause of a failed
  // rename (the caller then removes it itself).
  std::expected<void, std::string> discard(const std::string& path);

  // Trees waiting or being removed, for tests and the log.
  size_t pending() const;

 private:
  void loop();
  std::string dir_;
  std::function<void(const std::string&)> warn_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  size_t busy_ = 0;
  uint64_t next_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace shoal::broker
