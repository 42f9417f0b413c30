// Job arrays (protocol/array.h, docs/jobs.md "Arrays"): a submission that
// becomes one job per task, and the commands that act on all of an array's
// tasks (watch, stop; list takes an "array" too, client_commands.cpp).
#include "broker/broker_impl.h"
#include "protocol/client_protocol.h"

namespace shoal::broker {

using nlohmann::json;

std::expected<std::vector<jobs::Job>, std::string> Broker::submitted_jobs(
    const jobs::JobSpec& spec, const std::optional<jobs::ArraySpec>& array, const std::string& id) {
  std::vector<jobs::Job> out;
  if (!array) {
    out.emplace_back().id = id;
    out.back().spec = spec;
    return out;
  }
  auto tasks = jobs::array_tasks(*array);
  if (!tasks) return std::unexpected(tasks.error());
  out.reserve(tasks->size());
  for (size_t i = 0; i < tasks->size(); ++i) {
    auto task = jobs::task_spec(spec, *array, *tasks, i, id);
    if (!task) return std::unexpected(task.error());
    out.emplace_back().id = jobs::task_id(id, (*tasks)[i].index);
    out.back().spec = std::move(*task);
  }
  return out;
}

std::optional<std::string> Broker::find_array(const std::string& typed) {
  const std::string prefix = jobs::id_prefix(typed);
  // A job's id, or a prefix that reaches into a task's index, is no array.
  if (prefix.size() < 3 || prefix.size() > jobs::kJobIdLength || jobs_.find(prefix))
    return std::nullopt;
  flush();  // the tasks of a submission just acknowledged are in the store
  auto first = store_->first_id_from(prefix);
  if (!first || !*first) return std::nullopt;
  auto task = jobs::task_of(**first);
  if (!task || !task->array_id.starts_with(prefix)) return std::nullopt;
  // '.' follows '-': the first id after every "ARRAY-..." one.
  auto after = store_->first_id_from(task->array_id + ".");
  if (!after || (*after && (*after)->starts_with(prefix))) return std::nullopt;
  return task->array_id;
}

std::expected<ArrayProgress*, std::string> Broker::array_progress(const std::string& id) {
  if (auto it = arrays_.find(id); it != arrays_.end()) return &it->second;
  flush();
  ListQuery q;
  q.limit = SIZE_MAX;
  q.newest_first = false;
  q.id_prefix = id + "-";
  auto stored = store_->list_jobs(q);
  if (!stored) return std::unexpected(stored.error());
  for (const Damage& d : stored->skipped)
    log_->error("array {}: skipped {}: {}; run `shoal doctor`", id, d.key, d.why);
  ArrayProgress& a = arrays_.emplace(id, ArrayProgress(id)).first->second;
  for (const jobs::Job& task : stored->jobs) {
    const jobs::Job* active = jobs_.find(task.id);
    a.update(active ? *active : task);
  }
  return &a;
}

void Broker::watch_array(Request& r) {
  auto a = array_progress(*r.array);
  if (!a) return reply_error(r.identity, a.error());
  ArrayProgress& progress = **a;
  if (progress.finished()) {
    reply(r.identity, protocol::kEnd, progress.summary());
    if (!followers_.contains(progress.id())) arrays_.erase(progress.id());
    return;
  }
  if (r.body.value("states", true)) reply(r.identity, protocol::kState, progress.summary());
  followers_.insert({progress.id(), Follower{r.identity, false, 3, true}});
}

void Broker::stop_array(Request& r, const std::string& reason) {
  size_t stopped = 0;
  for (const std::string& id : jobs_.ids_with_prefix(*r.array + "-")) {
    auto job = jobs_.request_stop(id, reason);
    if (!job) continue;
    ++stopped;
    if (job->state == jobs::JobState::running) stop_on_worker(id);
  }
  reply(r.identity, protocol::kOk, {{"id", *r.array}, {"array", true}, {"stopped", stopped}});
}

void Broker::send_array_progress() {
  for (auto it = arrays_.begin(); it != arrays_.end();) {
    ArrayProgress& a = it->second;
    const bool end = a.finished();
    auto range = followers_.equal_range(a.id());
    if (a.dirty() && range.first != range.second) {
      const json body = a.summary();
      for (auto f = range.first; f != range.second; ++f) {
        Outgoing o;
        o.identity = f->second.identity;
        o.kind = end ? protocol::kEnd : protocol::kState;
        o.body = body;
        o.job_id = a.id();
        outgoing_.push_back(std::move(o));
      }
      a.sent();
    }
    if (!end) {
      ++it;
      continue;
    }
    followers_.erase(a.id());
    it = arrays_.erase(it);
  }
}

std::string Broker::forget_array_task(const std::string& id) {
  auto task = jobs::task_of(id);
  if (!task) return "";
  arrays_.erase(task->array_id);
  followers_.erase(task->array_id);
  return task->array_id;
}

}  // namespace shoal::broker
