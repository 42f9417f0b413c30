// Job arrays as the `shoal` command shows them (docs/jobs.md, "Arrays"):
// waiting on an array with a progress bar, its summary, the exit status it
// maps to, and its tasks written out by `job get`.
#pragma once

#include <chrono>
#include <expected>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "client/client.h"

namespace shoal::cli {

// The job array that `typed` (an id or a unique prefix) names, or nothing
// when it names none (a job, or nothing at all).
std::optional<std::string> array_named(client::Client& c, const std::string& typed);

// The exit status an array's summary maps to: the worst of its tasks' (a
// Completed task's exit code, 126 for a Failed one, 130 for a Stopped
// one; docs/exit-codes.md), 0 when all succeeded.
int array_exit_status(const nlohmann::json& summary);

// "10000 tasks: 9990 completed, 7 failed, 3 stopped; worst exit code 2"
std::string array_summary_line(const nlohmann::json& summary);

// On stderr: the summary line, then each unsuccessful task the summary
// lists ("  j-...-17  Failed: trap: unreachable" / "exit code 3"), and how
// many more there are when it lists only some ("... and 180 more: shoal
// job list --array ID --wide --limit 0").
void say_how_the_array_ended(const nlohmann::json& summary);

// `shoal job describe ARRAY`: the array's id, its tasks, the counts by
// state, how many succeeded, the worst exit code, the unsuccessful tasks
// (the first 20 by index, and how many more), and how to see one task.
std::string describe_array(const nlohmann::json& summary);

// Waits until every task of array `id` has ended, with a progress bar on
// stderr when `tty` (done, failed and running counts, rate, ETA); then says
// how it ended and returns the exit status (array_exit_status), or
// kExitWaitTimeout after `limit`.
int wait_for_array(client::Client& c, const std::string& id, bool tty,
                   std::optional<std::chrono::milliseconds> limit = std::nullopt);

// Writes every task of array `id` under `dir`, one folder per task named
// by its index (dir/17/stdout, ...), as `job get` writes one job; returns
// how many tasks were written.
std::expected<size_t, std::string> fetch_array_outputs(client::Client& c, const std::string& id,
                                                       const std::string& dir);

}  // namespace shoal::cli
