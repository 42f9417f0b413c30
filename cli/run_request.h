// What `shoal wasm run` and `shoal job run` submit: the job spec
// (protocol/job.h) plus where the bytes that travel with it come from (the entry module, the import
// modules, inline inputs, stdin), and the submission itself, shared by both commands.
#pragma once

#include <chrono>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bacalhau/request.h"
#include "cli/file_bytes.h"
#include "protocol/job.h"

namespace shoal::cli {

using bacalhau::import_module_name;
using bacalhau::ImportModuleRef;
using bacalhau::InlineInput;
using bacalhau::ModuleRef;
using bacalhau::RunRequest;

// A whole file's bytes; fails with "PATH: is a directory" or "PATH: <the
// system's reason>".
std::expected<std::string, std::string> read_file(const std::string& path);

// The import modules of -I/--import-modules values (local paths or http(s)
// URLs). Fails naming the value: a bad URL, two modules with one name.
std::expected<std::vector<ImportModuleRef>, std::string> import_modules_from_flags(
    const std::vector<std::string>& values);

// A module's bytes: the file (mapped, not read), the download, or the
// inline bytes; checked to be wasm ("\0asm") so that a wrong file is named
// here, not by the broker.
std::expected<FileBytes, std::string> load_module(const ModuleRef& module);

struct WaitOptions {
  bool wait = true;           // wait for the end and print the output
  bool id_only = false;       // print only the id (and still wait when `wait`)
  bool follow = false;        // stream the output while it runs
  double wait_timeout_s = 0;  // > 0: stop waiting after this long (exit 124)
  // --download: write the results (as `shoal job get`) when the job ends,
  // under `output_dir` (--output-dir, which implies it), else ./job-<short id>.
  bool download = false;
  std::string output_dir;
  bool downloads() const { return download || !output_dir.empty(); }
};

// Loads the bytes, submits the job, and then (per `wait`) waits for it and
// prints its output. Returns the process exit status (docs/exit-codes.md).
int submit_job(const RunRequest& request, const WaitOptions& wait);

class Backend;
// After job `id` was submitted or re-run (`done` says which, on a
// terminal): prints its id, or (per `wait`) waits for it and prints its
// output, as submit_job does. Returns the process exit status.
int wait_for_job(Backend& c, const std::string& id, const WaitOptions& wait, std::string_view done);

}  // namespace shoal::cli
