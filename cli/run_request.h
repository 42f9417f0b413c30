// What `shoal wasm run` and `shoal job run` submit: the job spec
// (protocol/job.h) plus where the bytes that travel with it come from (the entry module, the import
// modules, inline inputs, stdin), and the submission itself, shared by both commands.
#pragma once

#include <chrono>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli/file_bytes.h"
#include "protocol/job.h"

namespace shoal::cli {

// A wasm module: a local file, an http(s) URL (downloaded by the client,
// with a progress bar on a terminal), or bytes decoded from a data: URL.
struct ModuleRef {
  enum class Kind { local, url, inline_data };
  Kind kind = Kind::local;
  std::string source;  // the path (absolute or as given), the URL, or the data: URL
  std::string bytes;   // Kind::inline_data: the decoded bytes
  // The Bacalhau InputSources Target the module came from; "" when given
  // directly (a path or URL).
  std::string target;
};

// An import module and the name its exports are imported under.
struct ImportModuleRef {
  std::string name;
  ModuleRef module;
};

// A file whose bytes travel with the submission (Bacalhau's `inline`
// input source), mounted read-only at `target`.
struct InlineInput {
  std::string target;
  std::string bytes;
  std::string url;  // the data: URL it was decoded from, for printing back
};

struct RunRequest {
  // The job. Its import_modules and inline_inputs are left empty:
  // submit_job fills them from `imports` and `inline_inputs`, in order.
  jobs::JobSpec spec;
  ModuleRef module;
  std::vector<ImportModuleRef> imports;
  std::vector<InlineInput> inline_inputs;
  std::string stdin_file;  // "": no stdin; "-": this process's stdin; else a file
};

// A whole file's bytes; fails with "PATH: is a directory" or "PATH: <the
// system's reason>".
std::expected<std::string, std::string> read_file(const std::string& path);

// The import module name for a module's path, URL or target: its file name
// without a final ".wasm" ("/app/mylib.wasm" -> "mylib").
std::string import_module_name(const std::string& path_or_url);

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
};

// Loads the bytes, submits the job, and then (per `wait`) waits for it and
// prints its output. Returns the process exit status (docs/exit-codes.md).
int submit_job(const RunRequest& request, const WaitOptions& wait);

}  // namespace shoal::cli
