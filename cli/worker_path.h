// Where the shoal-worker executable is.
#pragma once

#include <expected>
#include <string>

namespace shoal::cli {

// $SHOAL_WORKER when set, else `shoal-worker` beside the running `shoal`.
// Fails with a message when that file is not executable.
std::expected<std::string, std::string> worker_path();

}  // namespace shoal::cli
