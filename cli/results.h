// Writing a job's results to a directory, the one way `shoal job get` and
// `shoal wasm run --download` do it: stdout, stderr, exitCode and every
// output file (Backend::fetch_outputs: over the socket or HTTP).
#pragma once

#include <expected>
#include <string>

#include "cli/backend.h"

namespace shoal::cli {

// Writes the results of job `id` (a full id) under `output_dir`, or under
// ./job-<short id> when it is empty; returns the directory written. The
// error names the directory: "--output-dir DIR: <why>".
std::expected<std::string, std::string> write_results(Backend& c, const std::string& id,
                                                      const std::string& output_dir);

}  // namespace shoal::cli
