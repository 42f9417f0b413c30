// Job arrays (docs/jobs.md, "Arrays"): the tasks of an ArraySpec
// (protocol/job.h) and the spec each task runs.
//
// An array's id is a job id ("j-<uuid>"); its tasks are jobs of their own
// with ids "j-<uuid>-<index>", so every command that takes a job takes a
// task, and the tasks of an array are the jobs whose ids start with
// "j-<uuid>-". A task's spec is the submitted spec with its placeholders
// filled (GNU parallel's: `{}` the item, `{.}` the item without its
// extension, `{/}` its base name, `{//}` its directory, `{/.}` its base name
// without extension, `{#}` the task's index) in the name, args, env values,
// input sources and targets, and output names and paths, plus the
// variables SHOAL_ARRAY_ID, SHOAL_ARRAY_INDEX, SHOAL_ARRAY_COUNT (and for
// --each-input SHOAL_ARRAY_ITEM) and Slurm's SLURM_ARRAY_TASK_ID,
// SLURM_ARRAY_TASK_COUNT, SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_MAX.
//
// Pure functions; errors name the value at fault.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/job.h"

namespace shoal::jobs {

// The most tasks one array holds (one submission is one commit), and the
// largest index Slurm's syntax may name.
inline constexpr size_t kMaxArrayTasks = 100000;
inline constexpr uint64_t kMaxArrayIndex = 999999999;
// A job id's length: "j-" and a UUID.
inline constexpr size_t kJobIdLength = 38;

// One task of an array: its index and the item its placeholders stand for
// (the index in decimal for an array of indices).
struct ArrayTask {
  uint64_t index = 0;
  std::string item;
};

// The indices of Slurm's --array syntax, ascending and each once: "7",
// "1-10", "0-15:4", lists of those ("1,3,5-7"). Slurm's "%N" suffix (at
// most N running at once) is refused by name: shoal runs as many as it has
// workers for.
std::expected<std::vector<uint64_t>, std::string> parse_array_indices(std::string_view text);

// The tasks of `array`, in index order: one per index, or one per item
// (indices 1..N). Fails when both or neither are given, on a bad index
// list, on more than kMaxArrayTasks tasks, or on an item that is empty.
std::expected<std::vector<ArrayTask>, std::string> array_tasks(const ArraySpec& array);

// `text` with the placeholders filled for `task` (unknown `{...}` kept).
std::string fill_placeholders(std::string_view text, const ArrayTask& task);

// The spec of one task of the array `array_id` of `tasks` (as array_tasks
// gave them), checked with check_spec; the error names the task.
std::expected<JobSpec, std::string> task_spec(const JobSpec& base, const ArraySpec& array,
                                              const std::vector<ArrayTask>& tasks, size_t which,
                                              const std::string& array_id);

// "j-<uuid>-<index>".
std::string task_id(const std::string& array_id, uint64_t index);

// The array a task id belongs to and the task's index; nothing for an id
// that is not a task's ("j-<uuid>" and 36 characters, then "-<index>").
struct TaskOf {
  std::string array_id;
  uint64_t index = 0;
};
std::optional<TaskOf> task_of(std::string_view id);

// Whether `id` has the shape of a job id that could name an array ("j-"
// and a UUID, nothing after).
bool is_array_id_shape(std::string_view id);

}  // namespace shoal::jobs
