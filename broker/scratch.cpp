// The broker's scratch directories: where an execution's output directories
// (out/NAME), its stdin and its job blobs live while it runs.
//
// A remote execution gets a directory of its own, scratch/EXEC_ID, only
// when its `done` brings output files back (unpack_outputs, which makes it),
// and removed after it: a remote run that wrote no file costs the broker no
// directory made and removed. A local worker keeps one directory for its
// life per run it holds at once (a batch), scratch/WORKER_NAME for the
// first and scratch/WORKER_NAME.SLOT for the others, with the default
// output directory out/outputs in it. When collecting the outputs found
// nothing and the broker put no file of its own there, the directory is as
// it was made and is kept for the next run. Otherwise it is handed to the
// reaper (broker/reaper.h): one rename on the loop, the removal on the
// reaper's thread, so that however many files a guest left, the loop does
// not wait for their deletion.
#include <filesystem>

#include "broker/broker_impl.h"
#include "broker/tree.h"

namespace shoal::broker {

namespace fs = std::filesystem;

std::string Broker::scratch_of(const WorkerState& w, const InHand& r) const {
  if (w.remote) return opt_.dir.scratch + "/" + r.exec_id;
  return opt_.dir.scratch + "/" + w.name + (r.slot ? "." + std::to_string(r.slot) : "");
}

void Broker::discard(const std::string& path) {
  if (auto r = reaper_->discard(path); !r) {
    log_->warn("{}; removing it here", r.error());
    if (auto removed = tree::remove_all(path); !removed) log_->error("{}", removed.error());
  }
}

void Broker::prepare_scratch(WorkerState& w, const InHand& r) {
  std::error_code ec;
  if (w.remote) return;  // made by unpack_outputs when files come back
  if (w.scratch_ready.size() <= r.slot) w.scratch_ready.resize(r.slot + 1);
  if (w.scratch_ready[r.slot]) return;
  const std::string scratch = scratch_of(w, r);
  discard(scratch);
  fs::create_directories(fs::path(scratch) / "out" / "outputs", ec);
  w.scratch_ready[r.slot] = !ec;
}

void Broker::clear_scratch(WorkerState& w, const InHand& r, bool untouched) {
  // The guest can write only in the output directories under out/; the
  // broker itself puts stdin and job blobs at the top.
  if (w.scratch_ready.size() <= r.slot) w.scratch_ready.resize(r.slot + 1);
  if (!w.remote && w.scratch_ready[r.slot] && untouched) return;
  // Made again for the next run.
  w.scratch_ready[r.slot] = false;
  discard(scratch_of(w, r));
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
