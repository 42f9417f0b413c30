// Where the tasks of one job array stand (protocol/array.h), as the broker
// tells the clients that wait on the array: how many are pending, queued,
// running, completed, failed and stopped, the worst exit code, and which
// tasks did not succeed. Pure state, kept in memory from the array's
// submission (or, after a broker restart, from the store when someone asks)
// until every task has ended; the tasks themselves are jobs in the store.
//
// Not thread-safe: the broker's loop owns it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>

#include "protocol/job.h"

namespace shoal::broker {

// How many unsuccessful tasks a summary names; the rest are counted.
inline constexpr size_t kListedUnsuccessful = 20;

class ArrayProgress {
 public:
  explicit ArrayProgress(std::string array_id) : id_(std::move(array_id)) {}

  // A task's new state (its first sighting adds it to the array).
  void update(const jobs::Job& task);
  // A task that no longer exists (its submission could not be stored).
  void remove(const std::string& task_id);

  const std::string& id() const { return id_; }
  size_t tasks() const { return states_.size(); }
  // Every task has ended.
  bool finished() const;
  // Changed since the last summary().
  bool dirty() const { return dirty_; }

  // The summary of docs/protocol.md (`watch` of an array): the counts by
  // state, "succeeded" (Completed with exit code 0), "worst_exit_code"
  // (the largest exit code of a Completed task, or null), and
  // "unsuccessful": the first kListedUnsuccessful tasks by index that
  // failed, stopped or exited non-zero ({id, index, state, exit_code,
  // message}), with "unsuccessful_count" counting all of them.
  nlohmann::json summary() const;
  // The latest summary was sent: dirty() is false until the next change.
  void sent() { dirty_ = false; }

 private:
  struct Unsuccessful {
    std::string id;
    jobs::JobState state;
    std::optional<int32_t> exit_code;
    std::string message;
  };
  std::string id_;
  std::unordered_map<std::string, jobs::JobState> states_;  // by task id
  std::array<size_t, 6> counts_{};                          // by JobState
  std::map<int32_t, size_t> exit_codes_;     // Completed tasks' exit codes: how many each
  std::map<std::string, int32_t> exited_;    // Completed tasks' exit codes, by task id
  std::map<uint64_t, Unsuccessful> failed_;  // by index
  bool dirty_ = true;
};

}  // namespace shoal::broker
