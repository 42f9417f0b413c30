#include "protocol/job_json.h"

#include <ctime>
#include <set>

#include "protocol/constraints.h"
#include "protocol/names.h"

namespace shoal::jobs {

using nlohmann::json;

std::string format_time(int64_t ns) {
  if (ns == 0) return "";
  time_t secs = static_cast<time_t>(ns / 1'000'000'000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>((ns / 1'000'000) % 1000));
  return buf;
}

json to_json(const JobSpec& s) {
  json inputs = json::array(), outputs = json::array();
  for (const auto& i : s.inputs) inputs.push_back({{"source", i.source}, {"target", i.target}});
  for (const auto& o : s.outputs) outputs.push_back({{"name", o.name}, {"path", o.path}});
  json imports = json::array(), inline_inputs = json::array();
  for (const auto& m : s.import_modules)
    imports.push_back({{"name", m.name}, {"source", m.source}, {"sha256", m.hash}});
  for (const auto& i : s.inline_inputs)
    inline_inputs.push_back({{"target", i.target}, {"sha256", i.hash}, {"size", i.size}});
  return {{"name", s.name},
          {"labels", s.labels},
          {"module", s.module_name},
          {"module_sha256", s.module_hash},
          {"entry_point", s.entry_point},
          {"args", s.args},
          {"env", s.env},
          {"inputs", inputs},
          {"outputs", outputs},
          {"timeout_s", static_cast<double>(s.timeout_ms) / 1000.0},
          {"memory", s.memory_bytes},
          {"constraints", s.constraints},
          {"import_modules", imports},
          {"inline_inputs", inline_inputs}};
}

json to_json(const Job& j) {
  json execs = json::array(), history = json::array(), files = json::array();
  for (const auto& e : j.executions) {
    execs.push_back({{"id", e.id},
                     {"attempt", e.attempt},
                     {"worker", e.worker},
                     {"state", state_name(e.state)},
                     {"started", format_time(e.started_ns)},
                     {"ended", format_time(e.ended_ns)},
                     {"exit_code", e.exit_code ? json(*e.exit_code) : json(nullptr)},
                     {"message", e.message},
                     {"stdout_bytes", e.stdout_bytes},
                     {"stderr_bytes", e.stderr_bytes},
                     {"stdout_dropped", e.stdout_dropped},
                     {"stderr_dropped", e.stderr_dropped}});
  }
  for (const auto& h : j.history)
    history.push_back({{"time", format_time(h.time_ns)}, {"topic", h.topic}, {"event", h.message}});
  for (const auto& f : j.output_files)
    files.push_back({{"name", f.name}, {"path", f.path}, {"size", f.size}});
  return {{"id", j.id},
          {"name", j.spec.name},
          {"type", "batch"},
          {"engine", "wasm"},
          {"state", state_name(j.state)},
          {"message", j.message},
          {"created", format_time(j.created_ns)},
          {"modified", format_time(j.modified_ns)},
          {"exit_code", j.exit_code ? json(*j.exit_code) : json(nullptr)},
          {"spec", to_json(j.spec)},
          {"executions", execs},
          {"history", history},
          {"output_files", files},
          {"outputs_message", j.outputs_message},
          {"revision", j.revision}};
}

std::optional<std::string> field_with_nul(const json& j, const std::string& at) {
  auto inside = [&](const std::string& key) { return at.empty() ? key : at + "." + key; };
  if (j.is_string()) {
    if (j.get_ref<const std::string&>().find('\0') != std::string::npos)
      return at.empty() ? "the body" : at;
  } else if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if (key.find('\0') != std::string::npos) return at.empty() ? "a key" : "a key in " + at;
      if (auto f = field_with_nul(value, inside(key))) return f;
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i)
      if (auto f = field_with_nul(j[i], (at.empty() ? "" : at) + "[" + std::to_string(i) + "]"))
        return f;
  }
  return std::nullopt;
}

std::expected<uint64_t, std::string> whole_number(const json& j, const char* field,
                                                  uint64_t fallback, uint64_t max,
                                                  const std::string& why_max,
                                                  const std::string& unit) {
  if (!j.contains(field)) return fallback;
  const json& v = j.at(field);
  if (v.is_number_unsigned() && v.get<uint64_t>() <= max) return v.get<uint64_t>();
  if (v.is_number_unsigned())
    return std::unexpected(std::string(field) + " " + v.dump() + " is over " + why_max);
  if (v.is_number_integer())
    return std::unexpected(std::string(field) + " " + v.dump() + " is negative");
  return std::unexpected(std::string(field) + " must be a whole number" +
                         (unit.empty() ? "" : " of " + unit) + ", not " + v.dump());
}

std::expected<JobSpec, std::string> spec_from_json(const json& j) {
  if (!j.is_object()) return std::unexpected(std::string("the spec is not a JSON object"));
  static const std::set<std::string> known = {
      "name",          "labels",      "module",         "entry_point",   "args",
      "env",           "inputs",      "outputs",        "timeout_s",     "memory",
      "module_sha256", "constraints", "import_modules", "inline_inputs", "watch"};
  for (const auto& [key, value] : j.items())
    if (!known.contains(key))
      return std::unexpected("unknown field '" + names::printable(key) + "' in the spec");
  // A NUL byte would end the string early wherever it becomes a path, an
  // argument or a variable: what runs would not be what was asked.
  if (auto f = field_with_nul(j)) return std::unexpected(*f + " contains a NUL byte");
  JobSpec s;
  try {
    s.name = j.value("name", "");
    if (j.contains("labels")) s.labels = j.at("labels").get<std::map<std::string, std::string>>();
    s.module_name = j.value("module", "");
    s.entry_point = j.value("entry_point", "_start");
    if (j.contains("args")) s.args = j.at("args").get<std::vector<std::string>>();
    if (j.contains("env")) s.env = j.at("env").get<std::vector<std::string>>();
    if (j.contains("inputs"))
      for (const auto& i : j.at("inputs"))
        s.inputs.push_back({i.at("source").get<std::string>(), i.at("target").get<std::string>()});
    if (j.contains("outputs"))
      for (const auto& o : j.at("outputs"))
        s.outputs.push_back({o.at("name").get<std::string>(), o.at("path").get<std::string>()});
    if (j.contains("import_modules"))
      for (const auto& m : j.at("import_modules"))
        s.import_modules.push_back(
            {m.at("name").get<std::string>(), m.value("source", ""), std::string()});
    if (j.contains("inline_inputs"))
      for (const auto& i : j.at("inline_inputs"))
        s.inline_inputs.push_back({i.at("target").get<std::string>(), std::string(), 0});
    if (j.contains("timeout_s")) {
      const json& t = j.at("timeout_s");
      if (!t.is_number()) return std::unexpected("timeout_s must be a number, not " + t.dump());
      const double timeout = t.get<double>();
      if (!(timeout >= 0)) return std::unexpected("timeout_s " + t.dump() + " is negative");
      if (timeout > kMaxTimeoutS)
        return std::unexpected("timeout_s " + t.dump() + " is over the most, " +
                               std::to_string(static_cast<uint64_t>(kMaxTimeoutS)) +
                               " (ten years); 0 means no timeout");
      if (timeout > 0 && timeout < 0.001)
        return std::unexpected("timeout_s " + t.dump() +
                               " is shorter than a millisecond, the smallest timeout; 0 means no "
                               "timeout");
      s.timeout_ms = static_cast<uint64_t>(timeout * 1000.0 + 0.5);
    }
    auto memory = whole_number(j, "memory", 0, kMaxMemoryBytes,
                               "4 GiB, the most a wasm32 module's memory can hold", "bytes");
    if (!memory) return std::unexpected(memory.error());
    if (*memory != 0 && *memory < kWasmPage)
      return std::unexpected("memory " + std::to_string(*memory) +
                             " is less than one WebAssembly page (65536 bytes, 64 KiB)");
    s.memory_bytes = *memory;
    s.constraints = j.value("constraints", "");
  } catch (const json::exception& e) {
    return std::unexpected(std::string("malformed spec: ") + e.what());
  }
  for (const auto& e : s.env)
    if (e.find('=') == std::string::npos || e.front() == '=')
      return std::unexpected("env entry '" + names::printable(e) + "' is not KEY=VALUE");
  for (const auto& i : s.inputs)
    if (i.target.empty() || i.target.front() != '/')
      return std::unexpected("input " + names::printable(i.source) + ": the target '" +
                             names::printable(i.target) + "' is not an absolute path");
  std::set<std::string> output_names;
  for (const auto& o : s.outputs) {
    if (auto ok = names::check_output_name(o.name); !ok)
      return std::unexpected("output " + names::printable(o.name) + ":" + names::printable(o.path) +
                             ": " + ok.error());
    if (o.path.empty() || o.path.front() != '/')
      return std::unexpected("output " + o.name + ":" + names::printable(o.path) +
                             ": the path is not absolute");
    if (!output_names.insert(o.name).second)
      return std::unexpected("two outputs are named '" + o.name +
                             "'; each output needs a name of its own");
  }
  if (auto sel = parse_selector(s.constraints); !sel)
    return std::unexpected("constraints: " + sel.error());
  for (const auto& i : s.inline_inputs)
    if (i.target.empty() || i.target.front() != '/')
      return std::unexpected("inline input: the target '" + names::printable(i.target) +
                             "' is not an absolute path");
  std::set<std::string> import_names;
  for (const auto& m : s.import_modules) {
    if (m.name.empty()) return std::unexpected(std::string("an import module has no name"));
    if (m.name == "wasi_snapshot_preview1")
      return std::unexpected("import module " + names::printable(m.source) +
                             ": the name wasi_snapshot_preview1 belongs to WASI");
    if (!import_names.insert(m.name).second)
      return std::unexpected("two import modules are named '" + names::printable(m.name) + "'");
  }
  if (s.entry_point.empty()) return std::unexpected(std::string("entry_point is empty"));
  return s;
}

}  // namespace shoal::jobs
