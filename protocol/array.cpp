#include "protocol/array.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "protocol/job_json.h"
#include "protocol/names.h"

namespace shoal::jobs {
namespace {

std::expected<uint64_t, std::string> index_of(std::string_view text, std::string_view part) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return std::unexpected("'" + names::printable(part) +
                           "' is not an index, a range A-B or A-B:STEP");
  if (n > kMaxArrayIndex)
    return std::unexpected("index " + std::string(text) + " is over the largest, " +
                           std::to_string(kMaxArrayIndex));
  return n;
}

// One part of the list: "A", "A-B" or "A-B:STEP", added to `out`.
std::expected<void, std::string> add_part(std::string_view part, std::set<uint64_t>& out) {
  std::string_view range = part, step_text;
  if (auto colon = part.find(':'); colon != std::string_view::npos) {
    range = part.substr(0, colon);
    step_text = part.substr(colon + 1);
  }
  const auto dash = range.find('-');
  if (dash == std::string_view::npos && !step_text.empty())
    return std::unexpected("'" + names::printable(part) + "': a step needs a range A-B:STEP");
  auto first = index_of(range.substr(0, dash), part);
  if (!first) return std::unexpected(first.error());
  uint64_t last = *first, step = 1;
  if (dash != std::string_view::npos) {
    auto l = index_of(range.substr(dash + 1), part);
    if (!l) return std::unexpected(l.error());
    last = *l;
  }
  if (!step_text.empty()) {
    auto s = index_of(step_text, part);
    if (!s) return std::unexpected(s.error());
    step = *s;
  }
  if (last < *first)
    return std::unexpected("'" + names::printable(part) + "' ends before it starts");
  if (step == 0) return std::unexpected("'" + names::printable(part) + "': the step is 0");
  if ((last - *first) / step + out.size() >= kMaxArrayTasks)
    return std::unexpected("more than " + std::to_string(kMaxArrayTasks) +
                           " tasks, the most one array holds");
  for (uint64_t i = *first; i <= last; i += step) out.insert(i);
  return {};
}

std::string_view base_name(std::string_view s) {
  auto slash = s.rfind('/');
  return slash == std::string_view::npos ? s : s.substr(slash + 1);
}

std::string_view dir_name(std::string_view s) {
  auto slash = s.rfind('/');
  if (slash == std::string_view::npos) return ".";
  return slash == 0 ? s.substr(0, 1) : s.substr(0, slash);
}

// `s` without the extension of its last component ("a/b.txt" -> "a/b").
std::string_view without_extension(std::string_view s) {
  auto dot = s.rfind('.');
  auto slash = s.rfind('/');
  if (dot == std::string_view::npos || dot == 0 ||
      (slash != std::string_view::npos && dot <= slash + 1))
    return s;
  return s.substr(0, dot);
}

void with_env(std::vector<std::string>& env, const std::string& key, const std::string& value) {
  std::erase_if(env, [&](const std::string& e) { return e.starts_with(key + "="); });
  env.push_back(key + "=" + value);
}

}  // namespace

std::expected<std::vector<uint64_t>, std::string> parse_array_indices(std::string_view text) {
  if (text.empty()) return std::unexpected(std::string("the array's index list is empty"));
  if (auto pct = text.find('%'); pct != std::string_view::npos)
    return std::unexpected("'" + names::printable(text.substr(pct)) +
                           "': Slurm's limit on tasks running at once is not supported (shoal "
                           "runs as many tasks as it has workers)");
  std::set<uint64_t> out;
  size_t at = 0;
  while (at <= text.size()) {
    const size_t comma = std::min(text.find(',', at), text.size());
    auto added = add_part(text.substr(at, comma - at), out);
    if (!added) return std::unexpected("--array " + names::printable(text) + ": " + added.error());
    at = comma + 1;
  }
  return std::vector<uint64_t>(out.begin(), out.end());
}

std::expected<std::vector<ArrayTask>, std::string> array_tasks(const ArraySpec& a) {
  if (a.indices.empty() == a.items.empty())
    return std::unexpected(
        std::string(a.items.empty() ? "the array has neither indices nor items"
                                    : "the array has both indices and items; give one of them"));
  std::vector<ArrayTask> out;
  if (!a.indices.empty()) {
    auto indices = parse_array_indices(a.indices);
    if (!indices) return std::unexpected(indices.error());
    for (uint64_t i : *indices) out.push_back({i, std::to_string(i)});
    return out;
  }
  if (a.items.size() > kMaxArrayTasks)
    return std::unexpected("the array has " + std::to_string(a.items.size()) +
                           " items, more than " + std::to_string(kMaxArrayTasks) +
                           ", the most one array holds");
  for (size_t i = 0; i < a.items.size(); ++i) {
    if (a.items[i].empty())
      return std::unexpected("array item " + std::to_string(i + 1) + " is empty");
    out.push_back({i + 1, a.items[i]});
  }
  return out;
}

std::string fill_placeholders(std::string_view text, const ArrayTask& task) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const size_t close = text[i] == '{' ? text.find('}', i) : std::string_view::npos;
    if (close == std::string_view::npos) {
      out += text[i];
      continue;
    }
    const std::string_view token = text.substr(i + 1, close - i - 1);
    const std::string_view item = task.item;
    if (token.empty())
      out += item;
    else if (token == ".")
      out += without_extension(item);
    else if (token == "/")
      out += base_name(item);
    else if (token == "//")
      out += dir_name(item);
    else if (token == "/.")
      out += without_extension(base_name(item));
    else if (token == "#")
      out += std::to_string(task.index);
    else {
      out += text[i];
      continue;
    }
    i = close;
  }
  return out;
}

std::expected<JobSpec, std::string> task_spec(const JobSpec& base, const ArraySpec& array,
                                              const std::vector<ArrayTask>& tasks, size_t which,
                                              const std::string& array_id) {
  const ArrayTask& t = tasks[which];
  JobSpec s = base;
  auto fill = [&](std::string& v) { v = fill_placeholders(v, t); };
  fill(s.name);
  for (auto& a : s.args) fill(a);
  for (auto& e : s.env) {
    const auto eq = e.find('=');
    e = e.substr(0, eq + 1) + fill_placeholders(std::string_view(e).substr(eq + 1), t);
  }
  for (auto& in : s.inputs) {
    fill(in.source);
    fill(in.target);
  }
  for (auto& o : s.outputs) {
    fill(o.name);
    fill(o.path);
  }
  if (!array.item_target.empty()) s.inputs.push_back({t.item, array.item_target});
  with_env(s.env, "SHOAL_ARRAY_ID", array_id);
  with_env(s.env, "SHOAL_ARRAY_INDEX", std::to_string(t.index));
  with_env(s.env, "SHOAL_ARRAY_COUNT", std::to_string(tasks.size()));
  if (!array.items.empty()) with_env(s.env, "SHOAL_ARRAY_ITEM", t.item);
  with_env(s.env, "SLURM_ARRAY_TASK_ID", std::to_string(t.index));
  with_env(s.env, "SLURM_ARRAY_TASK_COUNT", std::to_string(tasks.size()));
  with_env(s.env, "SLURM_ARRAY_TASK_MIN", std::to_string(tasks.front().index));
  with_env(s.env, "SLURM_ARRAY_TASK_MAX", std::to_string(tasks.back().index));
  if (auto ok = check_spec(s); !ok)
    return std::unexpected("array task " + std::to_string(t.index) + " (item " +
                           names::printable(t.item) + "): " + ok.error());
  return s;
}

std::string task_id(const std::string& array_id, uint64_t index) {
  return array_id + "-" + std::to_string(index);
}

bool is_array_id_shape(std::string_view id) {
  return id.size() == kJobIdLength && id.starts_with("j-");
}

std::optional<TaskOf> task_of(std::string_view id) {
  if (id.size() <= kJobIdLength + 1 || !id.starts_with("j-") || id[kJobIdLength] != '-')
    return std::nullopt;
  const std::string_view digits = id.substr(kJobIdLength + 1);
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return TaskOf{std::string(id.substr(0, kJobIdLength)), n};
}

}  // namespace shoal::jobs
