// Collecting an execution's output directories into the store.
#include <filesystem>
#include <fstream>

#include "broker/broker_impl.h"

namespace shoal::broker {

namespace fs = std::filesystem;

bool Broker::collect_outputs(jobs::Job& job, const std::string& scratch) {
  job.output_files.clear();
  job.outputs_message.clear();
  uint64_t bytes = 0, files = 0, skipped = 0;
  bool capped = false;
  // Whether out/ held only the default output directory, and it nothing.
  bool untouched = true;
  std::error_code ec;
  fs::path root = fs::path(scratch) / "out";
  for (auto out = fs::directory_iterator(root, ec); !ec && out != fs::directory_iterator();
       out.increment(ec)) {
    std::string name = out->path().filename().string();
    if (name != "outputs") untouched = false;
    // Symlinks are never followed: a guest may point them anywhere.
    for (auto it = fs::recursive_directory_iterator(out->path(), fs::directory_options::none, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      untouched = false;
      auto status = it->symlink_status(ec);
      if (ec) break;
      if (fs::is_directory(status)) continue;
      if (!fs::is_regular_file(status)) {
        ++skipped;
        continue;
      }
      uint64_t size = fs::file_size(it->path(), ec);
      if (ec) break;
      if (files + 1 > opt_.output_files_cap || bytes + size > opt_.output_bytes_cap) {
        capped = true;
        continue;
      }
      std::ifstream in(it->path(), std::ios::binary);
      std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::string rel = fs::relative(it->path(), out->path(), ec).string();
      batch_.put_output(job.id, name, rel, std::move(data));
      job.output_files.push_back({name, rel, size});
      bytes += size;
      ++files;
    }
  }
  if (capped)
    job.outputs_message = "outputs truncated: only " + std::to_string(files) + " files (" +
                          std::to_string(bytes) + " bytes) were kept; the caps are " +
                          std::to_string(opt_.output_files_cap) + " files and " +
                          std::to_string(opt_.output_bytes_cap) + " bytes per job";
  if (skipped)
    job.outputs_message += std::string(job.outputs_message.empty() ? "" : "; ") +
                           std::to_string(skipped) +
                           " entries that are not regular files were skipped";
  if (!job.outputs_message.empty()) event(job, "Output", job.outputs_message);
  if (files)
    event(job, "Output",
          std::to_string(files) + " output files, " + std::to_string(bytes) + " bytes");
  return untouched && !ec;
}

}  // namespace shoal::broker
