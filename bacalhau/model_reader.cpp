#include "bacalhau/model_reader.h"

#include <string>

#include "bacalhau/request.h"
#include "protocol/job_json.h"

namespace shoal::bacalhau {

namespace {

using nlohmann::json;

std::string text(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& member(const json& j, const char* key) {
  static const json none;
  if (!j.is_object()) return none;
  auto it = j.find(key);
  return it == j.end() ? none : *it;
}

json object_or_empty(const json& j, const char* key) {
  const json& v = member(j, key);
  return v.is_object() ? v : json::object();
}

std::string time_text(const json& nanos) {
  return nanos.is_number_integer() ? jobs::format_time(nanos.get<int64_t>()) : "";
}

uint64_t count(const json& details, const char* key) {
  auto t = text(details, key);
  return t.empty() ? 0 : std::stoull(t);
}

// "536870912b" (model.h's form) as bytes; 0 for anything else.
uint64_t memory_bytes(const std::string& m) {
  if (m.empty() || m.back() != 'b') return 0;
  auto digits = m.substr(0, m.size() - 1);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoull(digits);
}

json inputs_of(const json& task, json& inline_inputs) {
  json inputs = json::array();
  for (const auto& in : member(task, "InputSources")) {
    const json& source = member(in, "Source");
    const std::string type = text(source, "Type"), target = text(in, "Target");
    const json& params = member(source, "Params");
    if (type == "inline")
      inline_inputs.push_back({{"target", target}});
    else
      inputs.push_back({{"source", text(params, type == "urlDownload" ? "URL" : "SourcePath")},
                        {"target", target}});
  }
  return inputs;
}

json spec_of(const json& job) {
  static const json none;
  const json& tasks = member(job, "Tasks");
  const json& task = tasks.is_array() && !tasks.empty() ? tasks[0] : none;
  const json& params = member(member(task, "Engine"), "Params");
  json env = json::array();
  const json env_map = object_or_empty(task, "Env");
  for (const auto& [k, v] : env_map.items())
    env.push_back(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
  json imports = json::array();
  for (const auto& m : member(params, "ImportModules"))
    if (m.is_string()) imports.push_back({{"name", import_module_name(m)}, {"source", m}});
  json outputs = json::array();
  for (const auto& o : member(task, "ResultPaths"))
    outputs.push_back({{"name", text(o, "Name")}, {"path", text(o, "Path")}});
  json inline_inputs = json::array();
  json inputs = inputs_of(task, inline_inputs);
  const json& timeout = member(member(task, "Timeouts"), "ExecutionTimeout");
  std::string name = text(job, "Name");
  return {{"args",
           member(params, "Parameters").is_array() ? member(params, "Parameters") : json::array()},
          {"constraints", ""},
          {"entry_point", text(params, "Entrypoint")},
          {"env", env},
          {"import_modules", imports},
          {"inline_inputs", inline_inputs},
          {"inputs", inputs},
          {"labels", object_or_empty(job, "Labels")},
          {"memory", memory_bytes(text(member(task, "Resources"), "Memory"))},
          {"meta", object_or_empty(job, "Meta")},
          {"module", text(params, "EntryModule")},
          {"module_sha256", ""},
          {"name", name == text(job, "ID") ? "" : name},
          {"outputs", outputs},
          {"stderr_limit", 0},
          {"stdout_limit", 0},
          {"timeout_s", timeout.is_number() ? timeout.get<double>() : 0.0}};
}

std::string state_name(int compute_state) {
  switch (compute_state) {
    case 6:
      return "Running";
    case 9:
      return "Completed";
    case 10:
      return "Failed";
    case 11:
      return "Stopped";
    default:
      return "Queued";
  }
}

json execution_of(const json& e) {
  const json& compute = member(e, "ComputeState");
  const json& details = member(compute, "Details");
  const std::string state = state_name(member(compute, "StateType").is_number_integer()
                                           ? member(compute, "StateType").get<int>()
                                           : 1);
  const bool ended = state == "Completed" || state == "Failed" || state == "Stopped";
  const json& run = member(e, "RunOutput");
  json exit_code = nullptr;
  if (run.is_object() && member(run, "ExitCode").is_number_integer()) {
    int code = member(run, "ExitCode").get<int>();
    if (state == "Completed" || code != 0) exit_code = code;
  }
  // The execution's name is JOB-N for attempt N+1 (model.h).
  std::string name = text(e, "Name");
  auto dash = name.rfind('-');
  int attempt = 1;
  if (dash != std::string::npos && dash + 1 < name.size() &&
      name.find_first_not_of("0123456789", dash + 1) == std::string::npos)
    attempt = std::stoi(name.substr(dash + 1)) + 1;
  return {{"attempt", attempt},
          {"ended", ended ? time_text(member(e, "ModifyTime")) : ""},
          {"exit_code", exit_code},
          {"id", text(e, "ID")},
          {"message", text(compute, "Message")},
          {"started", time_text(member(e, "CreateTime"))},
          {"state", state},
          {"stderr_bytes", count(details, "StderrBytes")},
          {"stderr_dropped", count(details, "StderrDropped")},
          {"stdout_bytes", count(details, "StdoutBytes")},
          {"stdout_dropped", count(details, "StdoutDropped")},
          {"worker", text(details, "Worker")}};
}

json event_of(const json& h) {
  const json& event = member(h, "Event");
  std::string topic = text(event, "Topic"), message = text(event, "Message");
  if (topic == "State Update") {
    topic = "State";
    if (auto before = text(member(event, "Details"), "PreviousState"); !before.empty())
      message = before + " -> " + message;
  }
  return {{"event", message}, {"time", text(h, "Time")}, {"topic", topic}};
}

}  // namespace

json job_from_models(const json& job, const json& executions, const json& history,
                     const json& results) {
  const json& state = member(job, "State");
  json exit_code = nullptr;
  if (auto code = text(member(state, "Details"), "ExitCode"); !code.empty())
    exit_code = std::stoi(code);
  json execs = json::array(), events = json::array();
  for (const auto& e : executions) execs.push_back(execution_of(e));
  for (const auto& h : history) events.push_back(event_of(h));
  json files = json::array();
  for (const auto& f : member(results, "OutputFiles"))
    files.push_back({{"name", text(f, "Name")},
                     {"path", text(f, "Path")},
                     {"size", member(f, "Size").is_number() ? member(f, "Size") : json(0)}});
  return {{"created", time_text(member(job, "CreateTime"))},
          {"engine", "wasm"},
          {"executions", execs},
          {"exit_code", exit_code},
          {"history", events},
          {"id", text(job, "ID")},
          {"message", text(state, "Message")},
          {"modified", time_text(member(job, "ModifyTime"))},
          {"name", text(job, "Name") == text(job, "ID") ? "" : text(job, "Name")},
          {"output_files", files},
          {"outputs_message", text(results, "OutputsMessage")},
          {"revision", member(job, "Revision").is_number() ? member(job, "Revision") : json(1)},
          {"spec", spec_of(job)},
          {"state", text(state, "StateType")},
          {"type", "batch"}};
}

}  // namespace shoal::bacalhau
