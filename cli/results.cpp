#include "cli/results.h"

#include "cli/job_view.h"

namespace shoal::cli {

std::expected<std::string, std::string> write_results(Backend& c, const std::string& id,
                                                      const std::string& output_dir) {
  const std::string target = output_dir.empty() ? "job-" + short_id(id).substr(2) : output_dir;
  auto files = c.fetch_outputs(id, target);
  if (!files) return std::unexpected("--output-dir " + target + ": " + files.error());
  return target;
}

}  // namespace shoal::cli
