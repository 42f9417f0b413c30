// Writing a job's results to a directory, the one way `shoal job get` and
// `shoal wasm run --download` do it: stdout, stderr, exitCode and every
// output file (client::Client::fetch_outputs).
#pragma once

#include <expected>
#include <string>

#include "client/client.h"

namespace shoal::cli {

// Writes the results of job `id` (a full id) under `output_dir`, or under
// ./job-<short id> when it is empty; returns the directory written. The
// error names the directory: "--output-dir DIR: <why>".
std::expected<std::string, std::string> write_results(client::Client& c, const std::string& id,
                                                      const std::string& output_dir);

}  // namespace shoal::cli
