// The broker's scratch directories: where an execution's output directories
// (out/NAME), its stdin and its job blobs live while it runs.
//
// A remote execution gets a directory of its own, scratch/EXEC_ID, only
// when its `done` brings output files back (unpack_outputs, which makes it),
// and removed after it: a remote run that wrote no file costs the broker no
// directory made and removed (two of mkdir, rename and rmdir each per job
// were the larger part of its CPU per remote job). A local worker keeps one directory for its
// life, scratch/WORKER_NAME, with the default output directory out/outputs
// in it. When collecting the outputs found nothing and the broker put no
// file of its own there, the directory is as it was made and is kept for
// the next run. Otherwise it is handed to the reaper (broker/reaper.h): one
// rename on the loop, the removal on the reaper's thread, so that however
// many files a guest left, the loop does not wait for their deletion.
#include <filesystem>

#include "broker/broker_impl.h"
#include "broker/tree.h"

namespace shoal::broker {

namespace fs = std::filesystem;

std::string Broker::scratch_of(const WorkerState& w, const std::string& exec_id) const {
  return opt_.dir.scratch + "/" + (w.remote ? exec_id : w.name);
}

void Broker::discard(const std::string& path) {
  if (auto r = reaper_->discard(path); !r) {
    log_->warn("{}; removing it here", r.error());
    if (auto removed = tree::remove_all(path); !removed) log_->error("{}", removed.error());
  }
}

void Broker::prepare_scratch(WorkerState& w, const std::string& scratch) {
  std::error_code ec;
  if (w.remote || w.scratch_ready) return;
  discard(scratch);
  fs::create_directories(fs::path(scratch) / "out" / "outputs", ec);
  w.scratch_ready = !ec;
}

void Broker::clear_scratch(WorkerState& w, const std::string& scratch, bool untouched) {
  // The guest can write only in the output directories under out/; the
  // broker itself puts stdin and job blobs at the top.
  if (!w.remote && w.scratch_ready && untouched) return;
  // Made again for the next run.
  w.scratch_ready = false;
  discard(scratch);
}

void Broker::clear_all_scratch() {
  // Run at start, once the previous broker's workers are gone: every
  // directory under scratch/ belonged to one of its executions.
  std::error_code ec;
  for (auto it = fs::directory_iterator(opt_.dir.scratch, ec);
       !ec && it != fs::directory_iterator(); it.increment(ec))
    discard(it->path().string());
}

}  // namespace shoal::broker
