// What a Bacalhau job spec becomes before it is submitted (bacalhau/spec.h
// reads it; `shoal wasm run`, `shoal job run` and the REST API submit it):
// the job spec (protocol/job.h) plus where the bytes that travel with it
// come from. And the path rules the reader shares with the CLI's flags.
// All pure and thread-safe except probe_local_path (it asks the file system).
#pragma once

#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/job.h"

namespace shoal::bacalhau {

// A wasm module: a local file, an http(s) URL (downloaded by the client,
// with a progress bar on a terminal), bytes decoded from a data: URL, or
// one the broker stores, named by its SHA-256 (what `job describe` shows
// for a job's module: Task Meta "shoal.module_sha256"; submitted by hash
// alone, so a job runs again on the very module it ran).
struct ModuleRef {
  enum class Kind { local, url, inline_data, stored };
  Kind kind = Kind::local;
  // The path (absolute or as given), the URL, the data: URL, or (stored)
  // the SHA-256 in hex.
  std::string source;
  std::string bytes;  // Kind::inline_data: the decoded bytes
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
  // What the spec asked that shoal accepts without doing (Resources CPU,
  // Disk, GPU), one sentence each, for the submitter to show.
  std::vector<std::string> warnings;
  // A job array (protocol/array.h): one job per task instead of one job.
  std::optional<jobs::ArraySpec> array;
};

enum class PathKind { missing, file, directory };  // `file`: anything but a directory

// Tells what a local path is (following symlinks). Injected so that tests
// need not build a file tree.
using PathProbe = std::function<PathKind(const std::string& path)>;

// The real file system, with stat(2).
PathKind probe_local_path(const std::string& path);

// A guest path made absolute-normalised ("/a//b/" is "/a/b", "//" is "/"),
// or a message naming what is wrong with it ("must be absolute", "must not
// contain .."). Whether "/" itself may be mounted is the caller's rule.
std::expected<std::string, std::string> normalize_guest_path(std::string_view path);

// The import module name for a module's path, URL or target: its file name
// without a final ".wasm" ("/app/mylib.wasm" -> "mylib").
std::string import_module_name(const std::string& path_or_url);

}  // namespace shoal::bacalhau
