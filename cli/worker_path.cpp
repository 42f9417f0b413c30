#include "cli/worker_path.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace shoal::cli {

std::expected<std::string, std::string> worker_path() {
  std::string path;
  if (const char* env = std::getenv("SHOAL_WORKER"); env && *env) {
    path = env;
  } else {
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return std::unexpected("cannot find shoal's own executable: " + ec.message());
    path = (self.parent_path() / "shoal-worker").string();
  }
  if (::access(path.c_str(), X_OK) != 0)
    return std::unexpected("cannot run the worker " + path +
                           " (set SHOAL_WORKER to its path, or rebuild with tools/setup)");
  return path;
}

}  // namespace shoal::cli
