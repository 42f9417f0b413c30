#include "bacalhau/model.h"

#include <unistd.h>

#include <cctype>
#include <ctime>

#include "protocol/job_json.h"

namespace shoal::bacalhau {

namespace {

using nlohmann::json;

std::string text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json object_or_empty(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : json::object();
}

bool terminal(std::string_view state) {
  return state == "Completed" || state == "Failed" || state == "Stopped";
}

// spec.env holds "K=V" strings or {name, value} objects.
json env_map(const json& spec) {
  json env = json::object();
  for (const auto& e : spec.value("env", json::array())) {
    if (e.is_string()) {
      auto s = e.get<std::string>();
      auto eq = s.find('=');
      env[s.substr(0, eq)] = eq == std::string::npos ? "" : s.substr(eq + 1);
    } else if (e.is_object()) {
      env[text(e, "name")] = text(e, "value");
    }
  }
  return env;
}

json input_sources(const json& spec) {
  json out = json::array();
  for (const auto& in : spec.value("inputs", json::array())) {
    auto source = text(in, "source");
    bool url = source.starts_with("http://") || source.starts_with("https://");
    json params = url ? json{{"URL", source}}
                      : json{{"SourcePath", source},
                             {"ReadWrite", in.value("read_write", false)},
                             {"CreateAs", "noCreate"}};
    out.push_back({{"Source", {{"Type", url ? "urlDownload" : "local"}, {"Params", params}}},
                   {"Alias", ""},
                   {"Target", text(in, "target")}});
  }
  for (const auto& in : spec.value("inline_inputs", json::array()))
    out.push_back({{"Source", {{"Type", "inline"}, {"Params", {{"Hash", text(in, "hash")}}}}},
                   {"Alias", ""},
                   {"Target", text(in, "target")}});
  return out;
}

json task_model(const json& spec) {
  json imports = json::array();
  for (const auto& m : spec.value("import_modules", json::array()))
    imports.push_back(text(m, "source"));
  json params = {{"EntryModule", text(spec, "module")},
                 {"Entrypoint", text(spec, "entry_point")},
                 {"Parameters", spec.value("args", json::array())},
                 {"ImportModules", imports}};
  // Every output a run gets (jobs::effective_outputs), the default included.
  jobs::JobSpec shape;
  shape.default_output = spec.value("default_output", true);
  for (const auto& o : spec.value("outputs", json::array()))
    shape.outputs.push_back({text(o, "name"), text(o, "path")});
  json results = json::array();
  for (const auto& o : jobs::effective_outputs(shape))
    results.push_back({{"Name", o.name}, {"Path", o.path}});
  json task = {{"Name", "main"},
               {"Engine", {{"Type", "wasm"}, {"Params", params}}},
               {"Publisher", {{"Type", "local"}, {"Params", json::object()}}},
               {"Env", env_map(spec)},
               {"Meta", text(spec, "module_sha256").empty()
                            ? json::object()
                            : json{{kModuleSha256Meta, text(spec, "module_sha256")}}},
               {"InputSources", input_sources(spec)},
               {"ResultPaths", results},
               {"Network", {{"Type", "None"}}}};
  uint64_t memory = spec.value("memory", uint64_t{0});
  task["Resources"] = memory ? json{{"Memory", std::to_string(memory) + "b"}} : json::object();
  double timeout = spec.value("timeout_s", 0.0);
  task["Timeouts"] = {{"ExecutionTimeout", static_cast<int64_t>(timeout)},
                      {"QueueTimeout", 0},
                      {"TotalTimeout", 0}};
  return task;
}

}  // namespace

int64_t unix_nanos(std::string_view t) {
  std::tm tm{};
  int frac_digits = 0;
  int64_t frac = 0;
  if (t.size() < 19 || t[4] != '-' || t[10] != 'T') return 0;
  auto num = [&](size_t at, size_t n) {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) v = v * 10 + (t[i] - '0');
    return v;
  };
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(5, 2) - 1;
  tm.tm_mday = num(8, 2);
  tm.tm_hour = num(11, 2);
  tm.tm_min = num(14, 2);
  tm.tm_sec = num(17, 2);
  for (size_t i = 20; t.size() > 19 && t[19] == '.' && i < t.size() && t[i] >= '0' && t[i] <= '9';
       ++i, ++frac_digits)
    if (frac_digits < 9) frac = frac * 10 + (t[i] - '0');
  for (int d = frac_digits; d < 9; ++d) frac *= 10;
  return static_cast<int64_t>(::timegm(&tm)) * 1000000000 + frac;
}

int compute_state(std::string_view state) {
  if (state == "Running") return 6;
  if (state == "Completed") return 9;
  if (state == "Failed") return 10;
  if (state == "Stopped") return 11;
  return 1;  // New
}

json job_model(const json& job) {
  const json spec = object_or_empty(job, "spec");
  std::string id = text(job, "id"), name = text(job, "name");
  json state = {{"StateType", text(job, "state")}};
  if (auto m = text(job, "message"); !m.empty()) state["Message"] = m;
  if (job.contains("exit_code") && job["exit_code"].is_number())
    state["Details"] = {{"ExitCode", job["exit_code"].dump()}};
  return {{"ID", id},
          {"Name", name.empty() ? id : name},
          {"Namespace", "default"},
          {"Type", job.value("type", std::string("batch"))},
          {"Priority", 0},
          {"Count", 1},
          {"Constraints", json::array()},
          {"Meta", object_or_empty(spec, "meta")},
          {"Labels", object_or_empty(spec, "labels")},
          {"Tasks", json::array({task_model(spec)})},
          {"State", state},
          {"Version", 1},
          {"Revision", job.value("revision", 1)},
          {"CreateTime", unix_nanos(text(job, "created"))},
          {"ModifyTime", unix_nanos(text(job, "modified"))}};
}

json execution_models(const json& job, const std::string& node_id) {
  json out = json::array();
  std::string id = text(job, "id");
  for (const auto& e : job.value("executions", json::array())) {
    std::string state = text(e, "state");
    int desired = terminal(state) ? 2 : 1;
    json run = nullptr;
    if (terminal(state))
      run = {{"Stdout", ""},
             {"StdoutTruncated", e.value("stdout_dropped", 0) > 0},
             {"stderr", ""},
             {"StderrTruncated", e.value("stderr_dropped", 0) > 0},
             {"ExitCode", e.value("exit_code", json(0)).is_number() ? e["exit_code"] : json(0)},
             {"ErrorMsg", text(e, "message")}};
    json details = {{"Worker", text(e, "worker")}};
    for (const char* stream : {"stdout", "stderr"})
      if (uint64_t dropped = e.value(std::string(stream) + "_dropped", uint64_t{0})) {
        const std::string name(1, static_cast<char>(std::toupper(stream[0])));
        details[name + (stream + 1) + "Bytes"] =
            std::to_string(e.value(std::string(stream) + "_bytes", uint64_t{0}));
        details[name + (stream + 1) + "Dropped"] = std::to_string(dropped);
      }
    auto started = unix_nanos(text(e, "started"));
    auto ended = unix_nanos(text(e, "ended"));
    out.push_back({{"ID", text(e, "id")},
                   {"Namespace", "default"},
                   {"EvalID", ""},
                   {"Name", id + "-" + std::to_string(e.value("attempt", 1) - 1)},
                   {"NodeID", node_id},
                   {"JobID", id},
                   {"JobVersion", 1},
                   {"AllocatedResources", {{"Tasks", json::object()}}},
                   {"DesiredState", {{"StateType", desired}, {"Message", ""}}},
                   {"ComputeState",
                    {{"StateType", compute_state(state)},
                     {"Message", text(e, "message")},
                     {"Details", details}}},
                   {"PublishedResult", nullptr},
                   {"RunOutput", run},
                   {"PreviousExecution", ""},
                   {"NextExecution", ""},
                   {"FollowupEvalID", ""},
                   {"Revision", 1},
                   {"CreateTime", started},
                   {"ModifyTime", ended ? ended : started}});
  }
  return out;
}

json describe_model(const json& job, const std::string& node_id) {
  return {{"Job", job_model(job)},
          {"History", {{"Items", history_models(job)}, {"NextToken", ""}}},
          {"Executions", {{"Items", execution_models(job, node_id)}, {"NextToken", ""}}}};
}

std::string local_node_id() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || !name[0]) return "n-localhost";
  return std::string("n-") + name;
}

json history_models(const json& job) {
  json out = json::array();
  int64_t seq = 0;
  std::string id = text(job, "id");
  for (const auto& h : job.value("history", json::array())) {
    std::string topic = text(h, "topic"), message = text(h, "event"), time = text(h, "time");
    json event = {{"Message", message},
                  {"Topic", topic == "State" ? "State Update" : topic},
                  {"Timestamp", time}};
    json item = {{"SeqNum", ++seq}, {"Type", "JobLevel"}, {"JobID", id},
                 {"JobVersion", 1}, {"Event", event},     {"Time", time}};
    auto exec = message.find("execution e-");
    if (topic == "Execution" && exec != std::string::npos) {
      auto start = exec + 10, end = message.find(' ', start);
      item["Type"] = "ExecutionLevel";
      item["ExecutionID"] = message.substr(start, end - start);
    }
    if (topic == "State") {
      auto arrow = message.rfind("-> ");
      auto state = arrow == std::string::npos ? message : message.substr(arrow + 3);
      item["Event"]["Message"] = state;
      item["Event"]["Details"] = {{"NewState", state}};
      if (arrow != std::string::npos && arrow >= 1)
        item["Event"]["Details"]["PreviousState"] = message.substr(0, arrow - 1);
    }
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace shoal::bacalhau
