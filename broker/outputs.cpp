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

namespace {

// One collection: what it kept and what it left, said in words at the end.
class Collection {
 public:
  Collection(jobs::Job& job, Batch& batch, uint64_t files_cap, uint64_t bytes_cap)
      : job_(job), batch_(batch), files_cap_(files_cap), bytes_cap_(bytes_cap) {}

  // Collects the output directory `name`, open as `dir_fd`; false when the
  // walk stopped at a cap, and no other directory is to be looked at.
  bool directory(int dir_fd, const std::string& name) {
    auto report =
        tree::walk(dir_fd, kMaxOutputPath, [&](const tree::Entry& e) { return entry(name, e); });
    if (report.too_long) {
      if (too_long_ == 0) first_too_long_ = name + "/" + report.first_too_long;
      too_long_ += report.too_long;
    }
    if (!report.error.empty() && walk_error_.empty()) walk_error_ = name + "/" + report.error;
    return !report.stopped;
  }

  void not_a_directory() { ++special_; }
  bool entered() const { return entered_; }
  bool walk_failed() const { return !walk_error_.empty(); }

  // What was left out, in the job's outputs_message; "" when nothing.
  std::string said() const {
    std::vector<std::string> said;
    if (!cap_.empty() || left_out_) {
      std::string m = "outputs truncated: " + std::to_string(files_) + " files (" +
                      units::format_bytes(bytes_) + ") were kept";
      if (left_out_)
        m += "; " + std::to_string(left_out_) + " files (" + units::format_bytes(left_out_bytes_) +
             ") were left out, past the cap of " + units::format_bytes(bytes_cap_) + " per job";
      if (!cap_.empty()) m += "; the collection stopped at the cap of " + cap_ + " per job";
      said.push_back(m);
    }
    if (too_long_)
      said.push_back(std::to_string(too_long_) +
                     " files or directories were not collected: their "
                     "paths inside the output directory are longer than " +
                     std::to_string(kMaxOutputPath) +
                     " bytes (the first: " + names::printable(first_too_long_) + ")");
    if (special_)
      said.push_back(std::to_string(special_) +
                     " entries that are not regular files or directories (links, FIFOs, "
                     "sockets) were skipped");
    if (unreadable_)
      said.push_back(std::to_string(unreadable_) + " files could not be read (the first: " +
                     names::printable(first_unreadable_) + ")");
    if (!walk_error_.empty())
      said.push_back("a directory could not be read: " + names::printable(walk_error_));
    std::string out;
    for (const auto& s : said) out += (out.empty() ? "" : "; ") + s;
    return out;
  }

  // "N output files, B bytes", or "" when none.
  std::string kept() const {
    if (!files_) return "";
    return std::to_string(files_) + " output files, " + std::to_string(bytes_) + " bytes";
  }

 private:
  tree::Visit entry(const std::string& name, const tree::Entry& e) {
    entered_ = true;
    if (++entries_ > kMaxOutputEntries) {
      cap_ =
          std::to_string(kMaxOutputEntries) + " entries (files, directories and others) looked at";
      return tree::Visit::stop;
    }
    if (S_ISDIR(e.st.st_mode)) return tree::Visit::go_on;
    if (!S_ISREG(e.st.st_mode)) {
      ++special_;
      return tree::Visit::go_on;
    }
    if (e.rel.size() > kMaxOutputPath) {
      if (too_long_++ == 0) first_too_long_ = name + "/" + e.rel;
      return tree::Visit::go_on;
    }
    const auto size = static_cast<uint64_t>(e.st.st_size);
    if (files_ + 1 > files_cap_) {
      cap_ = std::to_string(files_cap_) + " files";
      return tree::Visit::stop;
    }
    if (bytes_ + size > bytes_cap_) {
      ++left_out_;  // a smaller file after it may still fit
      left_out_bytes_ += size;
      return tree::Visit::go_on;
    }
    auto data = tree::read_file_at(e.dir_fd, e.name, bytes_cap_ - bytes_);
    if (!data) {
      if (unreadable_++ == 0) first_unreadable_ = name + "/" + e.rel + ": " + data.error();
      return tree::Visit::go_on;
    }
    bytes_ += data->size();
    ++files_;
    job_.output_files.push_back({name, e.rel, data->size()});
    batch_.put_output(job_.id, name, e.rel, std::move(*data));
    return tree::Visit::go_on;
  }

  jobs::Job& job_;
  Batch& batch_;
  const uint64_t files_cap_, bytes_cap_;
  uint64_t bytes_ = 0, files_ = 0, special_ = 0, unreadable_ = 0, too_long_ = 0, entries_ = 0;
  uint64_t left_out_ = 0, left_out_bytes_ = 0;  // files past the byte cap
  std::string first_too_long_, first_unreadable_, walk_error_;
  std::string cap_;       // the cap that stopped the walk, in words
  bool entered_ = false;  // an entry was found inside an output directory
};

}  // namespace

bool Broker::collect_outputs(jobs::Job& job, const std::string& scratch) {
  job.output_files.clear();
  job.outputs_message.clear();
  const std::string root = scratch + "/out";
  int out_fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (out_fd < 0) {
    job.outputs_message =
        "the output directories could not be read: " + std::string(std::strerror(errno));
    jobs_.note(job, "Output", job.outputs_message);
    return false;
  }
  // Each output directory in turn, as dispatch made them under out/ (a
  // walk that enters nothing: max_path 0 lists the top level only).
  std::vector<std::string> names_seen;
  tree::walk(out_fd, 0, [&](const tree::Entry& top) {
    names_seen.push_back(top.rel);
    return tree::Visit::go_on;
  });
  Collection c(job, batch_, opt_.output_files_cap, opt_.output_bytes_cap);
  // Whether out/ held only the default output directory, and it nothing.
  bool untouched = true;
  for (const std::string& name : names_seen) {
    if (name != "outputs") untouched = false;
    int dir_fd = ::openat(out_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir_fd < 0) {
      c.not_a_directory();  // nothing the broker made
      continue;
    }
    const bool go_on = c.directory(dir_fd, name);
    ::close(dir_fd);
    if (!go_on) break;
  }
  ::close(out_fd);
  job.outputs_message = c.said();
  if (!job.outputs_message.empty()) jobs_.note(job, "Output", job.outputs_message);
  if (auto kept = c.kept(); !kept.empty()) jobs_.note(job, "Output", kept);
  return untouched && !c.entered() && !c.walk_failed();
}

}  // namespace shoal::broker
