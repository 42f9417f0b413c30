// Remote workers (docs/remote.md): a worker pool on another host
// (`shoal worker`) has none of the broker's files, so its runs carry the
// bytes (broker/run_builder.h) and the module once per host
// (broker/module_holders.h); the output files come back in `done`.
#include <filesystem>
#include <fstream>
#include <set>

#include "broker/broker_impl.h"
#include "protocol/job_json.h"
#include "protocol/names.h"

namespace shoal::broker {

namespace fs = std::filesystem;

void Broker::on_remote_ready(const std::string& name, const wire::Ready& ready) {
  auto it = workers_.find(name);
  if (it != workers_.end()) {
    if (!it->second.remote) {
      send_to_worker(name, wire::kBye, "");  // a remote worker may not take a local name
      return;
    }
    // The same worker again: it restarted after losing us, so whatever it ran is over.
    if (!it->second.idle())
      on_worker_lost(name, "restarted after losing the broker");
    else
      workers_.erase(it);
  }
  WorkerState w;
  w.name = name;
  w.ready = true;
  w.last_seen = Clock::now();
  w.remote = true;
  w.host = ready.host.empty() ? name : ready.host;
  w.labels = ready.labels;
  std::string labels;
  for (const auto& [k, v] : w.labels) labels += (labels.empty() ? "" : ",") + k + "=" + v;
  log_->info("remote worker {} joined from {} (labels: {})", name, w.host,
             labels.empty() ? "none" : labels);
  workers_[name] = std::move(w);
}

void Broker::on_need_module(WorkerState& w, const std::string& exec_id) {
  auto run = w.find_run(exec_id);
  if (run == w.runs.end()) return;  // a run that is no longer its
  const jobs::Job* job = jobs_.find(run->job_id);
  if (!job) return;
  auto module = get_blob(job->spec.module_hash);
  if (!module || !*module) {
    log_->error("worker {} asked for module {}, which the store lacks", w.name,
                job->spec.module_hash);
    return;
  }
  log_->debug("sending module {} to {} again", job->spec.module_hash, w.name);
  send_to_worker(w.name, wire::kModule,
                 wire::encode(wire::ModuleBytes{job->spec.module_hash, std::move(**module)}));
}

bool Broker::unpack_outputs(const wire::Done& done, const std::string& scratch, jobs::Job& job) {
  if (!done.outputs_message.empty())
    jobs_.note(job, "Output", "on the worker: " + done.outputs_message);
  if (done.outputs.empty()) return false;
  // The run's output directories, as a local run has them for collect_outputs.
  std::set<std::string> given;
  std::error_code ec;
  for (const auto& o : jobs::effective_outputs(job.spec)) {
    auto dir = names::join_plain(scratch + "/out", o.name);
    if (!dir || (!fs::create_directories(*dir, ec) && ec)) continue;
    given.insert(o.name);
  }
  size_t refused = 0;
  for (const auto& f : done.outputs) {
    fs::path dest = fs::path(scratch) / "out" / f.path;
    // Only into an output directory this run was given.
    std::string top = f.path.substr(0, f.path.find('/'));
    if (!wire::safe_relative_path(f.path) || f.path.find('/') == std::string::npos ||
        !given.contains(top)) {
      ++refused;
      continue;
    }
    fs::create_directories(dest.parent_path(), ec);
    if (f.directory) {
      fs::create_directories(dest, ec);
      continue;
    }
    std::ofstream out(dest, std::ios::binary | std::ios::trunc);
    out.write(f.data.data(), static_cast<std::streamsize>(f.data.size()));
    if (!out) ++refused;
  }
  if (refused)
    jobs_.note(job, "Output",
               std::to_string(refused) +
                   " output files from the worker had unusable paths and were dropped");
  return true;
}

}  // namespace shoal::broker
