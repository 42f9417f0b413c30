// Showing jobs to a person, and the pieces of job handling several
// commands share.
#pragma once

#include <expected>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/backend.h"
#include "cli/format.h"
#include "client/client.h"

namespace shoal::cli {

// "j-3f2a9c1e" (the first 8 hex digits of the UUID).
std::string short_id(const std::string& id);

// The human view of `shoal job describe`; `stdout_head` is the start of the
// job's stdout.
std::string describe_job(const nlohmann::json& job, const std::string& stdout_head);

using Table = std::pair<std::vector<std::string>, std::vector<std::vector<std::string>>>;
Table executions_table(const nlohmann::json& job);
Table history_table(const nlohmann::json& job);

// Waits until the job is finished and returns its final record. With
// `print_states`, prints each state change on stderr as it happens, and a
// progress bar while the broker downloads a URL input. With `timeout`, fails
// with a message saying the job goes on when it has not ended by then.
std::expected<nlohmann::json, std::string> wait_for_end(
    Backend& c, const std::string& id, bool print_states,
    std::optional<std::chrono::milliseconds> timeout = std::nullopt);

// Connects to the broker of this user's state directory, starting one when
// none runs (unless `start_broker` is false), for a command that only the
// socket serves: with a REST API endpoint chosen (cli/backend.h), fails
// naming the command and the flag.
std::expected<client::Client, std::string> connect(bool start_broker = true);

// Writes a chunk to stdout or stderr, as the program wrote it.
void write_chunk(const std::string& stream, const std::string& data);

// The exit status a finished job maps to (docs/exit-codes.md).
int exit_status_of(const nlohmann::json& job);

// For a job that did not complete, one line on stderr: "shoal: job ID
// failed: CAUSE" (or "was stopped: ..."), as docs/exit-codes.md promises;
// nothing for a completed job.
void say_how_it_ended(const nlohmann::json& job);

// What a cap left out of a job's result, one sentence each, for the job's
// latest execution: "stdout was cut at 64.0 MiB (--stdout-limit); N bytes
// dropped", the same for stderr, and the job's outputs_message ("output
// files were cut: ..."). `streams` picks the logs spoken of; `outputs`
// whether the output files are. Empty when nothing was left out.
std::vector<std::string> cut_notes(const nlohmann::json& job,
                                   client::Stream streams = client::Stream::all,
                                   bool outputs = true);

// Each of cut_notes on stderr: "shoal: job ID: NOTE" (docs/jobs.md,
// "Output limits"), and the bytes a follow could not deliver to this
// command (the end's `logs_dropped`). A cut leaves the job Completed and
// the exit status the program's: these lines are the warning.
void say_what_was_cut(const nlohmann::json& job, client::Stream streams = client::Stream::all,
                      bool outputs = true);

// What `--output json|yaml` of a job command shows: Bacalhau's models
// (bacalhau/model.h), as `bacalhau job ...` prints them.
enum class ModelView {
  list,        // the Job of each of `jobs` (a JSON array of jobs)
  describe,    // GetJobResponse: {"Job", "History": {"Items"}, "Executions": {"Items"}}
  executions,  // the job's Execution items
  history,     // the job's JobHistory items
};
nlohmann::json bacalhau_view(const nlohmann::json& jobs_or_job, ModelView view);

// `value` as JSON (one line, as Bacalhau prints it; indented by two with
// `pretty`, Bacalhau's --pretty) or YAML, ending in a newline. Bytes that
// are not UTF-8 are replaced, never a failure.
std::string render_structured(const nlohmann::json& value, Format format, bool pretty);

// k=v,k2=v2 and bare k, from repeated flags.
std::map<std::string, std::string> labels_from_flags(const std::vector<std::string>& specs);

}  // namespace shoal::cli
