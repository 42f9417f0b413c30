#include "worker/input_copies.h"

#include <filesystem>

namespace shoal::worker {

namespace fs = std::filesystem;

std::expected<void, std::string> copy_read_write_inputs(wire::Run& run) {
  size_t k = 0;
  for (auto& m : run.mounts) {
    if (!m.copy) continue;
    auto fail = [&](const std::error_code& ec) {
      return std::unexpected("input " + m.guest +
                             ": cannot make the program's read-write copy: " + ec.message());
    };
    if (run.scratch_dir.empty()) return fail(std::make_error_code(std::errc::invalid_argument));
    const std::string dest = run.scratch_dir + "/rw-" + std::to_string(k++);
    std::error_code ec;
    fs::remove_all(dest, ec);
    fs::copy(m.host, dest, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    if (ec) return fail(ec);
    m.host = dest;
    m.copy = false;
  }
  return {};
}

}  // namespace shoal::worker
