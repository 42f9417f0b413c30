#include "cli/version.h"

#include <v8-version.h>

#include <fmt/core.h>

#include "shoal_commit.h"
#include "shoal_config.h"

namespace shoal::cli {

std::string version_line() {
  return fmt::format("shoal {} (commit {}, V8 {}.{}.{}.{})", SHOAL_VERSION, SHOAL_COMMIT,
                     V8_MAJOR_VERSION, V8_MINOR_VERSION, V8_BUILD_NUMBER, V8_PATCH_LEVEL);
}

}  // namespace shoal::cli
