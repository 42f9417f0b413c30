// The broker's side of the group commit (docs/architecture.md, "One job"):
// every change of a job goes into the batch being gathered, with the
// replies that must not leave before it is durable; the committer
// (broker/committer.h) writes one batch while the loop gathers the next.
// Also: recovery at start, and blobs that a batch not yet committed holds.
#include <algorithm>
#include <set>

#include "broker/broker_impl.h"
#include "protocol/client_protocol.h"
#include "protocol/job_json.h"

namespace shoal::broker {

void Broker::changed(const jobs::Job& job, bool tell) {
  // A job's record is written once per commit, in its latest state: an
  // unfinished job's is encoded when the commit starts (save_unsaved), so
  // that a task queued, run and ended between two commits is encoded once,
  // not at each change. A finished job leaves the table: its record now.
  if (jobs::is_terminal(job.state)) {
    batch_.put_job(job);
    unsaved_.erase(job.id);
  } else {
    unsaved_.insert(job.id);
  }
  if (!arrays_.empty())
    if (auto task = jobs::task_of(job.id))
      if (auto a = arrays_.find(task->array_id); a != arrays_.end()) a->second.update(job);
  if (tell) notify(job);
  if (jobs::is_terminal(job.state)) {
    staged_paths_.erase(job.id);
    const jobs::Execution* last = job.executions.empty() ? nullptr : &job.executions.back();
    const bool ran = last && last->started_ns > 0 && last->ended_ns >= last->started_ns;
    metrics_.ended(jobs::now_ns(), job.state, ran ? last->ended_ns - last->started_ns : -1);
  }
}

void Broker::notify(const jobs::Job& job) {
  auto range = followers_.equal_range(job.id);
  std::string text;  // written once for all its followers
  const bool end = jobs::is_terminal(job.state);
  for (auto f = range.first; f != range.second;) {
    if (end || f->second.states) {
      if (text.empty()) text = jobs::to_json_text(job);
      Outgoing o;
      o.identity = f->second.identity;
      o.kind = end ? protocol::kEnd : protocol::kState;
      o.job_id = job.id;
      o.text = text;
      outgoing_.push_back(std::move(o));
    }
    f = end ? followers_.erase(f) : std::next(f);
  }
}

void Broker::recover() {
  auto unfinished = store_->unfinished_jobs();
  if (!unfinished) {
    log_->error("recovery: {}", unfinished.error());
    return;
  }
  for (const Damage& d : unfinished->skipped)
    log_->error("recovery: skipped {}: {}; run `shoal doctor`", d.key, d.why);
  for (const std::string& id : jobs_.recover(std::move(unfinished->jobs)))
    if (jobs::Job* job = jobs_.find(id)) stage(*job);
  flush();
  if (!jobs_.empty()) log_->info("recovered {} unfinished jobs", jobs_.size());
}

const std::string* Broker::pending_blob(const std::string& hash) const {
  if (const std::string* b = batch_.blob(hash)) return b;
  if (const Batch* committing = committer_->batch()) return committing->blob(hash);
  return nullptr;
}

bool Broker::blob_known(const std::string& hash) {
  if (batch_.blob(hash)) return true;
  if (const std::string* committing = pending_blob(hash)) {
    batch_.put_blob(hash, *committing);
    return true;
  }
  auto stored = store_->has_blob(hash);
  return stored && *stored;
}

std::expected<std::optional<std::string>, std::string> Broker::get_blob(const std::string& hash) {
  if (const std::string* pending = pending_blob(hash)) return *pending;
  return store_->get_blob(hash);
}

void Broker::save_unsaved() {
  for (const std::string& id : unsaved_)
    if (const jobs::Job* job = jobs_.find(id)) batch_.put_job(*job);
  unsaved_.clear();
}

void Broker::start_commit() {
  if (committer_->busy()) return;
  save_unsaved();
  if (batch_.empty()) {
    // Nothing to make durable, and no earlier reply waits: send at once.
    std::vector<Outgoing> out;
    out.swap(outgoing_);
    for (auto& o : out) replies_.post(std::move(o));
    return;
  }
  send_array_progress();
  committing_.swap(outgoing_);
  outgoing_.clear();
  committer_->start(std::exchange(batch_, Batch()));
}

void Broker::finish_commit(Committer::Result r) {
  std::vector<Outgoing> out;
  out.swap(committing_);
  if (!r.status) {
    log_->error("commit failed: {}", r.status.error());
    // Nothing of the batch landed: its acknowledgements become errors.
    std::set<std::string, std::less<>> refused;
    for (auto& o : out) {
      if (o.acknowledges.empty()) continue;
      for (const std::string& id : std::exchange(o.acknowledges, {})) {
        refused.insert(id);
        jobs_.forget(id);
        followers_.erase(id);  // a submission that was also a watch
        staged_paths_.erase(id);
        if (std::string array = forget_array_task(id); !array.empty()) refused.insert(array);
      }
      o.kind = protocol::kError;
      o.body = {{"error", "the job could not be stored: " + r.status.error()}};
      o.frames.clear();
    }
    // A refused job may have started, or ended, since: nothing more is
    // said or stored of it (a run of it is ignored when it ends).
    auto about_refused = [&](const Outgoing& o) {
      return !o.job_id.empty() && refused.contains(o.job_id);
    };
    std::erase_if(out, about_refused);
    std::erase_if(outgoing_, about_refused);
    // The other jobs' states (a job that ended, one that was dispatched) are
    // tried again with the next commit, before their later changes, so
    // that none stays behind in the store.
    Batch again = r.batch.job_records_except(refused, r.status.error());
    again.append(batch_.without_jobs(refused));
    batch_ = std::move(again);
  }
  for (auto& o : out) replies_.post(std::move(o));
}

void Broker::flush() {
  if (committer_->busy()) finish_commit(committer_->wait());
  start_commit();
  if (committer_->busy()) finish_commit(committer_->wait());
}

}  // namespace shoal::broker
