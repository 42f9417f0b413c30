// Collecting an execution's output directories into the store.
//
// The trees are a guest's: they are walked through directory descriptors
// (broker/tree.h), so depth and path length are no limit; links are never
// followed; and the walk is bounded (files, bytes, entries), so that a
// guest's million files cost the loop a bounded amount of work. Whatever is
// not collected is said: in the job's outputs_message and its history.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "broker/broker_impl.h"
#include "broker/tree.h"
#include "protocol/names.h"
#include "protocol/units.h"

namespace shoal::broker {

bool Broker::collect_outputs(jobs::Job& job, const std::string& scratch) {
  job.output_files.clear();
  job.outputs_message.clear();
  uint64_t bytes = 0, files = 0, special = 0, unreadable = 0, too_long = 0;
  uint64_t left_out = 0, left_out_bytes = 0;  // files past the byte cap
  std::string first_too_long, first_unreadable, walk_error;
  std::string cap;  // the cap that stopped the walk, in words
  // Whether out/ held only the default output directory, and it nothing.
  bool untouched = true;
  const std::string root = scratch + "/out";
  int out_fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (out_fd < 0) {
    job.outputs_message =
        "the output directories could not be read: " + std::string(std::strerror(errno));
    event(job, "Output", job.outputs_message);
    return false;
  }
  uint64_t entries = 0;
  // Each output directory in turn, as dispatch made them under out/ (a
  // walk that enters nothing: max_path 0 lists the top level only).
  std::vector<std::string> names_seen;
  tree::walk(out_fd, 0, [&](const tree::Entry& top) {
    names_seen.push_back(top.rel);
    return tree::Visit::go_on;
  });
  for (const std::string& name : names_seen) {
    if (name != "outputs") untouched = false;
    int dir_fd = ::openat(out_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir_fd < 0) {
      ++special;  // not a directory: nothing the broker made
      continue;
    }
    auto report = tree::walk(dir_fd, kMaxOutputPath, [&](const tree::Entry& e) {
      untouched = false;
      if (++entries > kMaxOutputEntries) {
        cap = std::to_string(kMaxOutputEntries) +
              " entries (files, directories and others) looked at";
        return tree::Visit::stop;
      }
      if (S_ISDIR(e.st.st_mode)) return tree::Visit::go_on;
      if (!S_ISREG(e.st.st_mode)) {
        ++special;
        return tree::Visit::go_on;
      }
      if (e.rel.size() > kMaxOutputPath) {
        if (too_long++ == 0) first_too_long = name + "/" + e.rel;
        return tree::Visit::go_on;
      }
      const auto size = static_cast<uint64_t>(e.st.st_size);
      if (files + 1 > opt_.output_files_cap) {
        cap = std::to_string(opt_.output_files_cap) + " files";
        return tree::Visit::stop;
      }
      if (bytes + size > opt_.output_bytes_cap) {
        ++left_out;  // a smaller file after it may still fit
        left_out_bytes += size;
        return tree::Visit::go_on;
      }
      auto data = tree::read_file_at(e.dir_fd, e.name, opt_.output_bytes_cap - bytes);
      if (!data) {
        if (unreadable++ == 0) first_unreadable = name + "/" + e.rel + ": " + data.error();
        return tree::Visit::go_on;
      }
      bytes += data->size();
      ++files;
      job.output_files.push_back({name, e.rel, data->size()});
      batch_.put_output(job.id, name, e.rel, std::move(*data));
      return tree::Visit::go_on;
    });
    ::close(dir_fd);
    if (report.too_long) {
      if (too_long == 0) first_too_long = name + "/" + report.first_too_long;
      too_long += report.too_long;
    }
    if (!report.error.empty() && walk_error.empty()) walk_error = name + "/" + report.error;
    if (report.stopped) break;
  }
  ::close(out_fd);
  std::vector<std::string> said;
  if (!cap.empty() || left_out) {
    std::string m = "outputs truncated: " + std::to_string(files) + " files (" +
                    units::format_bytes(bytes) + ") were kept";
    if (left_out)
      m += "; " + std::to_string(left_out) + " files (" + units::format_bytes(left_out_bytes) +
           ") were left out, past the cap of " + units::format_bytes(opt_.output_bytes_cap) +
           " per job";
    if (!cap.empty()) m += "; the collection stopped at the cap of " + cap + " per job";
    said.push_back(m);
  }
  if (too_long)
    said.push_back(std::to_string(too_long) +
                   " files or directories were not collected: their "
                   "paths inside the output directory are longer than " +
                   std::to_string(kMaxOutputPath) +
                   " bytes (the first: " + names::printable(first_too_long) + ")");
  if (special)
    said.push_back(std::to_string(special) +
                   " entries that are not regular files or directories (links, FIFOs, sockets) "
                   "were skipped");
  if (unreadable)
    said.push_back(std::to_string(unreadable) + " files could not be read (the first: " +
                   names::printable(first_unreadable) + ")");
  if (!walk_error.empty())
    said.push_back("a directory could not be read: " + names::printable(walk_error));
  for (const auto& s : said) job.outputs_message += (job.outputs_message.empty() ? "" : "; ") + s;
  if (!job.outputs_message.empty()) event(job, "Output", job.outputs_message);
  if (files)
    event(job, "Output",
          std::to_string(files) + " output files, " + std::to_string(bytes) + " bytes");
  return untouched && walk_error.empty();
}

}  // namespace shoal::broker
