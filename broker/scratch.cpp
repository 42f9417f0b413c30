// The broker's scratch directories: where an execution's output directories
// (out/NAME), its stdin and its job blobs live while it runs.
//
// A remote execution gets a directory of its own, scratch/EXEC_ID, made
// before and removed after it. A local worker keeps one directory for its
// life, scratch/WORKER_NAME, with the default output directory out/outputs
// in it: it is emptied after each execution rather than made and removed,
// which for a trivial job is most of the file system work the broker does
// (four mkdir and four rmdir per job before). When collecting the outputs
// found nothing and the broker put no file of its own there, the directory
// is as it was made and is not looked at again (three directory reads per
// job fewer).
#include <filesystem>

#include "broker/broker_impl.h"

namespace shoal::broker {

namespace fs = std::filesystem;

namespace {

// Removes everything in `dir` except the entry named `keep` (none when
// empty). Fails when an entry stays.
bool empty_except(const fs::path& dir, const std::string& keep) {
  std::error_code ec;
  std::vector<fs::path> doomed;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec))
    if (keep.empty() || it->path().filename() != keep) doomed.push_back(it->path());
  if (ec) return false;
  for (const auto& p : doomed) {
    fs::remove_all(p, ec);
    if (ec) return false;
  }
  return true;
}

}  // namespace

std::string Broker::scratch_of(const WorkerState& w, const std::string& exec_id) const {
  return opt_.dir.scratch + "/" + (w.remote ? exec_id : w.name);
}

void Broker::prepare_scratch(WorkerState& w, const std::string& scratch) {
  std::error_code ec;
  if (!w.remote && w.scratch_ready) return;
  fs::remove_all(scratch, ec);
  fs::create_directories(fs::path(scratch) / "out" / "outputs", ec);
  w.scratch_ready = !w.remote && !ec;
}

void Broker::clear_scratch(WorkerState& w, const std::string& scratch, bool untouched) {
  std::error_code ec;
  // The guest can write only in the output directories under out/; the
  // broker itself puts stdin and job blobs at the top.
  if (!w.remote && w.scratch_ready && untouched) return;
  if (!w.remote && w.scratch_ready) {
    fs::path root(scratch);
    if (empty_except(root, "out") && empty_except(root / "out", "outputs") &&
        empty_except(root / "out" / "outputs", ""))
      return;
  }
  // Whatever could not be emptied goes, and is made again for the next run.
  w.scratch_ready = false;
  fs::remove_all(scratch, ec);
}

void Broker::clear_all_scratch() {
  // Run at start, once the previous broker's workers are gone: every
  // directory under scratch/ belonged to one of its executions.
  empty_except(opt_.dir.scratch, "");
}

}  // namespace shoal::broker
