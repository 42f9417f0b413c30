#include "broker/array_progress.h"

#include "protocol/array.h"

namespace shoal::broker {

using nlohmann::json;

void ArrayProgress::update(const jobs::Job& task) {
  auto [it, fresh] = states_.try_emplace(task.id, task.state);
  if (!fresh) {
    if (it->second == task.state) return;
    --counts_[static_cast<size_t>(it->second)];
    it->second = task.state;
  }
  ++counts_[static_cast<size_t>(task.state)];
  dirty_ = true;
  if (!jobs::is_terminal(task.state)) return;
  const uint64_t index = jobs::task_of(task.id).value_or(jobs::TaskOf{}).index;
  if (task.state == jobs::JobState::completed && task.exit_code) {
    ++exit_codes_[*task.exit_code];
    exited_[task.id] = *task.exit_code;
  }
  if (task.state != jobs::JobState::completed || task.exit_code.value_or(0) != 0)
    failed_[index] = {task.id, task.state, task.exit_code, task.message};
}

void ArrayProgress::remove(const std::string& task_id) {
  auto it = states_.find(task_id);
  if (it == states_.end()) return;
  --counts_[static_cast<size_t>(it->second)];
  states_.erase(it);
  if (auto e = exited_.find(task_id); e != exited_.end()) {
    if (--exit_codes_[e->second] == 0) exit_codes_.erase(e->second);
    exited_.erase(e);
  }
  if (auto t = jobs::task_of(task_id)) failed_.erase(t->index);
  dirty_ = true;
}

bool ArrayProgress::finished() const {
  using S = jobs::JobState;
  return counts_[static_cast<size_t>(S::pending)] + counts_[static_cast<size_t>(S::queued)] +
             counts_[static_cast<size_t>(S::running)] ==
         0;
}

json ArrayProgress::summary() const {
  using S = jobs::JobState;
  auto count = [&](S s) { return counts_[static_cast<size_t>(s)]; };
  json out = {
      {"id", id_},
      {"array", true},
      {"tasks", states_.size()},
      {"pending", count(S::pending)},
      {"queued", count(S::queued)},
      {"running", count(S::running)},
      {"completed", count(S::completed)},
      {"failed", count(S::failed)},
      {"stopped", count(S::stopped)},
      {"succeeded", exit_codes_.contains(0) ? exit_codes_.at(0) : 0},
      {"worst_exit_code", exit_codes_.empty() ? json(nullptr) : json(exit_codes_.rbegin()->first)},
      {"unsuccessful_count", failed_.size()}};
  json listed = json::array();
  for (const auto& [index, t] : failed_) {
    if (listed.size() == kListedUnsuccessful) break;
    listed.push_back({{"id", t.id},
                      {"index", index},
                      {"state", std::string(jobs::state_name(t.state))},
                      {"exit_code", t.exit_code ? json(*t.exit_code) : json(nullptr)},
                      {"message", t.message}});
  }
  out["unsuccessful"] = std::move(listed);
  return out;
}

}  // namespace shoal::broker
