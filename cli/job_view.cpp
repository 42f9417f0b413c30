#include "cli/job_view.h"

#include <fmt/core.h>

#include <charconv>

#include "bacalhau/model.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/progress.h"
#include "protocol/array.h"
#include "protocol/client_protocol.h"
#include "protocol/names.h"
#include "protocol/units.h"

namespace shoal::cli {

using nlohmann::json;

std::string short_id(const std::string& id) {
  // A task of a job array keeps its index: "j-1a2b3c4d-17".
  if (auto task = jobs::task_of(id)) return id.substr(0, 10) + "-" + std::to_string(task->index);
  return id.substr(0, std::min<size_t>(id.size(), 10));
}

static std::string str(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

Table executions_table(const json& job) {
  Table t;
  t.first = {"ID", "ATTEMPT", "WORKER", "STATE", "STARTED", "ENDED", "EXIT", "MESSAGE"};
  for (const auto& e : job["executions"])
    t.second.push_back({str(e["id"]), str(e["attempt"]), str(e["worker"]), str(e["state"]),
                        local_time(str(e["started"])), local_time(str(e["ended"])),
                        str(e["exit_code"]), str(e["message"])});
  return t;
}

Table history_table(const json& job) {
  Table t;
  t.first = {"TIME", "TOPIC", "EVENT"};
  for (const auto& h : job["history"])
    t.second.push_back({local_time(str(h["time"])), str(h["topic"]), str(h["event"])});
  return t;
}

std::string describe_job(const json& job, const std::string& stdout_head) {
  std::string out;
  auto kv = [&](const char* k, const std::string& v) { out += fmt::format("{:<15} {}\n", k, v); };
  kv("ID", str(job["id"]));
  // What a user typed is shown on one line (a newline in a name would
  // read as another field); the message may hold a backtrace's lines.
  auto one_line = [&](const char* k, const std::string& v) { kv(k, names::escaped(v)); };
  one_line("Name", str(job["name"]));
  kv("Type", "batch");
  kv("Engine", "wasm");
  kv("State", str(job["state"]));
  if (!str(job["message"]).empty()) kv("Message", str(job["message"]));
  kv("Exit Code", str(job["exit_code"]));
  kv("Created", local_time(str(job["created"])));
  kv("Modified", local_time(str(job["modified"])));
  const json& spec = job["spec"];
  kv("Module", str(spec["module"]));
  std::string args;
  for (const auto& a : spec["args"]) args += (args.empty() ? "" : " ") + str(a);
  one_line("Arguments", args);
  auto pairs = [&](const char* key, const char* shown) {
    std::string text;
    if (!spec.contains(key)) return;
    for (const auto& [k, v] : spec[key].items())
      text += (text.empty() ? "" : ", ") + k + "=" + str(v);
    if (!text.empty()) one_line(shown, text);
  };
  pairs("labels", "Labels");
  pairs("meta", "Meta");
  out += "\nSummary\n";
  std::map<std::string, int> by_state;
  for (const auto& e : job["executions"]) ++by_state[str(e["state"])];
  for (const auto& [s, n] : by_state) out += fmt::format("  {:<13} {}\n", s, n);
  out += "\nJob History\n";
  auto h = history_table(job);
  out += render_table(h.first, h.second, false);
  out += "\nExecutions\n";
  auto e = executions_table(job);
  out += render_table(e.first, e.second, false);
  if (!job["output_files"].empty()) {
    out += "\nOutput Files\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& f : job["output_files"])
      rows.push_back({str(f["name"]), str(f["path"]), str(f["size"])});
    out += render_table({"OUTPUT", "PATH", "BYTES"}, rows, false);
  }
  if (!str(job["outputs_message"]).empty()) out += str(job["outputs_message"]) + "\n";
  if (auto notes = cut_notes(job, client::Stream::all, false); !notes.empty()) {
    out += "\nOutput Limits\n";
    for (const auto& note : notes) out += "  " + note + "\n";
  }
  out += "\nStandard Output\n";
  out += stdout_head.size() > 2000
             ? stdout_head.substr(0, 2000) + "\n[...] (shoal job logs " + str(job["id"]) + ")\n"
             : stdout_head;
  if (!stdout_head.empty() && stdout_head.back() != '\n') out += "\n";
  return out;
}

std::expected<json, std::string> wait_for_end(Backend& c, const std::string& id, bool print_states,
                                              std::optional<std::chrono::milliseconds> timeout) {
  std::string last;
  std::map<std::string, std::unique_ptr<ProgressBar>> bars;  // while the broker fetches inputs
  client::WaitCallbacks callbacks;
  callbacks.on_state = [&](const json& job) {
    std::string state = job.value("state", "");
    if (!print_states || state == last) return;
    bars.clear();
    fmt::print(stderr, "{}{}", last.empty() ? "" : " -> ", state);
    std::fflush(stderr);
    last = state;
  };
  callbacks.on_progress = [&](const std::string& url, uint64_t done, uint64_t total) {
    if (!print_states) return;
    auto& bar = bars[url];
    if (!bar) {
      if (!last.empty()) fmt::print(stderr, "\n");
      last.clear();
      bar = std::make_unique<ProgressBar>(2, url);
    }
    bar->update(done, total ? std::optional<uint64_t>(total) : std::nullopt);
  };
  auto end = c.wait(id, callbacks, timeout);
  bars.clear();
  if (print_states && !last.empty()) fmt::print(stderr, "\n");
  return end;
}

std::expected<client::Client, std::string> connect(bool start_broker) {
  return connect_socket_only(start_broker);
}

void write_chunk(const std::string& stream, const std::string& data) {
  FILE* f = stream == "stderr" ? stderr : stdout;
  std::fwrite(data.data(), 1, data.size(), f);
  std::fflush(f);
}

std::vector<std::string> cut_notes(const json& job, client::Stream streams, bool outputs) {
  std::vector<std::string> notes;
  const json* exec = nullptr;
  if (job.contains("executions") && job["executions"].is_array() && !job["executions"].empty())
    exec = &job["executions"].back();
  auto stream = [&](const char* name, client::Stream only) {
    if (!exec || streams == (only == client::Stream::stdout_only ? client::Stream::stderr_only
                                                                 : client::Stream::stdout_only))
      return;
    const uint64_t dropped = exec->value(std::string(name) + "_dropped", uint64_t{0});
    if (dropped == 0) return;
    notes.push_back(
        fmt::format("{} was cut at {} (--{}-limit); {} bytes dropped", name,
                    units::format_bytes(exec->value(std::string(name) + "_bytes", uint64_t{0})),
                    name, dropped));
  };
  stream("stdout", client::Stream::stdout_only);
  stream("stderr", client::Stream::stderr_only);
  if (outputs && !str(job.value("outputs_message", json(""))).empty())
    notes.push_back("output files were cut: " + str(job["outputs_message"]));
  return notes;
}

void say_what_was_cut(const json& job, client::Stream streams, bool outputs) {
  const std::string id = job.value("id", "");
  for (const auto& note : cut_notes(job, streams, outputs))
    fmt::print(stderr, "shoal: job {}: {}\n", id, note);
  if (const uint64_t lost = job.value("logs_dropped", uint64_t{0}))
    fmt::print(stderr,
               "shoal: job {}: {} bytes of its output were not delivered to this command (it "
               "read too slowly); shoal job logs {} prints all that was kept\n",
               id, lost, id);
}

void say_how_it_ended(const json& job) {
  const std::string state = job.value("state", "");
  if (state == "Completed") {
    // A program that exited nonzero after it was refused a path outside
    // its mounts: the message names the path and the mounts.
    if (const std::string m = job.value("message", ""); !m.empty())
      fmt::print(stderr, "shoal: job {} exited with {}: {}\n", job.value("id", ""),
                 job.value("exit_code", json()).dump(), m);
    return;
  }
  fmt::print(stderr, "shoal: job {} {}: {}\n", job.value("id", ""),
             state == "Stopped" ? "was stopped" : "failed", job.value("message", ""));
}

int exit_status_of(const json& job) {
  std::string state = job.value("state", "");
  if (state == "Completed")
    return job["exit_code"].is_number() ? job["exit_code"].get<int>() & 0xff : 0;
  if (state == "Stopped") return kExitJobStopped;
  return kExitJobFailed;
}

}  // namespace shoal::cli

namespace shoal::cli {

json bacalhau_view(const json& jobs_or_job, ModelView view) {
  switch (view) {
    case ModelView::list: {
      json items = json::array();
      for (const auto& j : jobs_or_job) items.push_back(bacalhau::job_model(j));
      return items;
    }
    case ModelView::describe:
      return bacalhau::describe_model(jobs_or_job, bacalhau::local_node_id());
    case ModelView::executions:
      return bacalhau::execution_models(jobs_or_job, bacalhau::local_node_id());
    case ModelView::history:
      return bacalhau::history_models(jobs_or_job);
  }
  return nullptr;
}

void add_pretty_flag(CLI::App& cmd, bool& pretty) {
  cmd.add_flag("--pretty", pretty, "Indent JSON output (json is one line without it)");
}

std::string render_structured(const json& value, Format format, bool pretty) {
  if (format == Format::yaml) return render_yaml(value);
  return value.dump(pretty ? 2 : -1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::map<std::string, std::string> labels_from_flags(const std::vector<std::string>& specs) {
  std::map<std::string, std::string> out;
  for (const auto& spec : specs) {
    size_t start = 0;
    for (;;) {
      size_t comma = spec.find(',', start);
      std::string item =
          spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!item.empty()) {
        size_t eq = item.find('=');
        if (eq == std::string::npos)
          out[item] = "";
        else
          out[item.substr(0, eq)] = item.substr(eq + 1);
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

}  // namespace shoal::cli
