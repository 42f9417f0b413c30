#include "cli/array_view.h"

#include <fmt/core.h>
#include <algorithm>
#include <filesystem>

#include "cli/commands.h"
#include "cli/progress.h"
#include "protocol/array.h"

namespace shoal::cli {

using nlohmann::json;

namespace {

size_t count(const json& s, const char* key) {
  return s.value(key, size_t{0});
}

size_t ended(const json& s) {
  return count(s, "completed") + count(s, "failed") + count(s, "stopped");
}

}  // namespace

std::optional<std::string> array_named(client::Client& c, const std::string& typed) {
  client::ListQuery q;
  q.limit = 1;
  q.array = typed;
  auto tasks = c.list(q);
  if (!tasks || tasks->empty()) return std::nullopt;
  auto of = jobs::task_of(tasks->front().value("id", ""));
  if (!of) return std::nullopt;
  return of->array_id;
}

int array_exit_status(const json& s) {
  int worst = 0;
  if (s.contains("worst_exit_code") && s["worst_exit_code"].is_number())
    worst = s["worst_exit_code"].get<int>() & 0xff;
  if (count(s, "failed") > 0) worst = std::max(worst, kExitJobFailed);
  if (count(s, "stopped") > 0) worst = std::max(worst, kExitJobStopped);
  return worst;
}

std::string array_summary_line(const json& s) {
  std::string line =
      fmt::format("{} tasks: {} completed", count(s, "tasks"), count(s, "completed"));
  const size_t nonzero = count(s, "completed") - count(s, "succeeded");
  if (nonzero > 0) line += fmt::format(" ({} with a non-zero exit code)", nonzero);
  if (count(s, "failed")) line += fmt::format(", {} failed", count(s, "failed"));
  if (count(s, "stopped")) line += fmt::format(", {} stopped", count(s, "stopped"));
  const size_t left = count(s, "tasks") - ended(s);
  if (left) line += fmt::format(", {} not ended", left);
  if (s.contains("worst_exit_code") && s["worst_exit_code"].is_number() &&
      s["worst_exit_code"].get<int>() != 0)
    line += fmt::format("; worst exit code {}", s["worst_exit_code"].get<int>());
  return line;
}

namespace {

// The unsuccessful tasks a summary lists, a line each ("  j-...-17  Failed:
// trap: unreachable" / "exit code 3"), and how many more there are.
std::string unsuccessful_lines(const json& s) {
  const std::string id = s.value("id", "");
  std::string out;
  const json listed = s.value("unsuccessful", json::array());
  for (const auto& t : listed) {
    const std::string state = t.value("state", "");
    std::string why =
        state == "Completed"
            ? fmt::format("exit code {}", t["exit_code"].dump())
            : state + (t.value("message", "").empty() ? "" : ": " + t.value("message", ""));
    out += fmt::format("  {}  {}\n", t.value("id", ""), why);
  }
  const size_t all = count(s, "unsuccessful_count");
  if (all > listed.size())
    out += fmt::format("  ... and {} more (shoal job list --array {} --wide --limit 0)\n",
                       all - listed.size(), id);
  return out;
}

}  // namespace

void say_how_the_array_ended(const json& s) {
  fmt::print(stderr, "shoal: job array {}: {}\n{}", s.value("id", ""), array_summary_line(s),
             unsuccessful_lines(s));
}

std::string describe_array(const json& s) {
  const std::string id = s.value("id", "");
  std::string out = fmt::format("Job array:  {}\nTasks:      {}\n", id, count(s, "tasks"));
  std::string states;
  for (const char* state : {"pending", "queued", "running", "completed", "failed", "stopped"})
    if (count(s, state))
      states += fmt::format("{}{} {}", states.empty() ? "" : ", ", count(s, state), state);
  out += fmt::format("States:     {}\n", states.empty() ? "none" : states);
  out += fmt::format("Succeeded:  {} (completed with exit code 0)\n", count(s, "succeeded"));
  out += fmt::format("Worst exit: {}\n",
                     s.contains("worst_exit_code") && s["worst_exit_code"].is_number()
                         ? s["worst_exit_code"].dump()
                         : "none (no task completed)");
  const size_t bad = count(s, "unsuccessful_count");
  if (bad)
    out += fmt::format("\nUnsuccessful tasks ({}; failed, stopped or a non-zero exit code):\n{}",
                       bad, unsuccessful_lines(s));
  out += fmt::format(
      "\nEach task is a job of its own, INDEX its index: shoal job describe {}-INDEX, shoal job "
      "logs {}-INDEX; all of them: shoal job list --array {}, shoal job logs {}\n",
      id, id, id, id);
  return out;
}

int wait_for_array(client::Client& c, const std::string& id, bool tty,
                   std::optional<std::chrono::milliseconds> limit) {
  ProgressOptions options;
  options.unit = ProgressUnit::items;
  options.is_tty = tty;
  ProgressBar bar(2, "tasks", options);
  auto end = c.wait_array(
      id,
      [&](const json& s) {
        std::string label = fmt::format("tasks ({} running", count(s, "running"));
        if (count(s, "failed") + count(s, "stopped"))
          label += fmt::format(", {} failed", count(s, "failed") + count(s, "stopped"));
        bar.set_label(label + ")");
        bar.update(ended(s), count(s, "tasks"));
      },
      limit);
  bar.finish();
  if (!end) {
    fail(end.error());
    return limit ? kExitWaitTimeout : kExitUsage;
  }
  say_how_the_array_ended(*end);
  return array_exit_status(*end);
}

std::expected<size_t, std::string> fetch_array_outputs(client::Client& c, const std::string& id,
                                                       const std::string& dir) {
  client::ListQuery q;
  q.limit = 0;
  q.oldest_first = true;
  q.array = id;
  auto tasks = c.list(q);
  if (!tasks) return std::unexpected(tasks.error());
  for (const auto& t : *tasks) {
    const std::string task = t.value("id", "");
    auto of = jobs::task_of(task);
    const std::string folder = dir + "/" + (of ? std::to_string(of->index) : task);
    auto files = c.fetch_outputs(task, folder);
    if (!files) return std::unexpected(task + ": " + files.error());
  }
  return tasks->size();
}

}  // namespace shoal::cli
