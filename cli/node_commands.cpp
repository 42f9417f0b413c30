// `shoal node list` and `shoal node describe ID`: the worker pools the
// broker runs jobs on (the local pool and every remote pool), from the
// broker's `nodes` command; Bacalhau's NodeState for json and yaml
// (bacalhau/node_model.h).
#include <fmt/core.h>

#include <algorithm>

#include "bacalhau/node_model.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/job_view.h"
#include "protocol/job_json.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

std::string labels_text(const json& labels) {
  std::string out;
  for (const auto& [k, v] : labels.items())
    out += (out.empty() ? "" : " ") + k + "=" + v.get<std::string>();
  return out;
}

// "slurm job 42 on n1, RUNNING, 3m" (or "..., PENDING (Resources), 12s").
std::string pilot_text(const json& p) {
  const int64_t age = p.value("age_s", int64_t{0});
  std::string text = p.value("provider", "") + " job " + p.value("job_id", "");
  if (!p.value("node", "").empty()) text += " on " + p.value("node", "");
  text += ", " + p.value("state", "");
  if (!p.value("reason", "").empty()) text += " (" + p.value("reason", "") + ")";
  text += ", " + (age >= 3600 ? std::to_string(age / 3600) + "h"
                  : age >= 60 ? std::to_string(age / 60) + "m"
                              : std::to_string(age) + "s");
  return text;
}

void print_nodes(const std::vector<json>& nodes, Format format, bool hide_header) {
  if (format == Format::json || format == Format::yaml) {
    json models = json::array();
    for (const auto& n : nodes) models.push_back(bacalhau::node_state_model(n));
    return (void)fmt::print("{}",
                            format == Format::json ? models.dump(2) + "\n" : render_yaml(models));
  }
  std::vector<std::string> header = {"ID",    "TYPE", "STATUS",        "LABELS",
                                     "SLOTS", "BUSY", "LAST HEARTBEAT"};
  const bool pilots =
      std::any_of(nodes.begin(), nodes.end(), [](const json& n) { return n.contains("pilot"); });
  if (pilots) header.push_back("PILOT");
  std::vector<std::vector<std::string>> rows;
  for (const auto& n : nodes) {
    const int64_t beat = n.value("last_heartbeat_ns", int64_t{0});
    rows.push_back({n.value("id", ""), n.value("remote", false) ? "remote" : "local",
                    n.value("state", ""), labels_text(n.value("labels", json::object())),
                    std::to_string(n.value("slots", 0)), std::to_string(n.value("busy", 0)),
                    beat > 0 ? local_time(jobs::format_time(beat)) : "-"});
    if (pilots) rows.back().push_back(n.contains("pilot") ? pilot_text(n["pilot"]) : "");
  }
  fmt::print("{}", format == Format::csv ? render_csv(header, rows, hide_header)
                                         : render_table(header, rows, hide_header));
}

// The broker's nodes, or the error (said).
std::expected<std::vector<json>, int> nodes_of_broker() {
  auto c = connect();
  if (!c) return std::unexpected(fail(c.error()));
  auto nodes = c->nodes();
  if (!nodes) return std::unexpected(fail(nodes.error()));
  return *nodes;
}

void add_node_list(CLI::App& node, int& status) {
  auto* cmd = node.add_subcommand(
      "list", "List the worker pools jobs run on: the local pool and every remote pool");
  struct Opts {
    std::string output = "table";
    bool hide_header = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--output", o->output, "table, csv, json or yaml (Bacalhau's NodeState)")
      ->capture_default_str();
  cmd->add_flag("--hide-header", o->hide_header, "No header row");
  cmd->callback([&status, o] {
    auto f = parse_format(o->output, {Format::table, Format::csv, Format::json, Format::yaml});
    if (!f) return (void)(status = fail(f.error()));
    auto nodes = nodes_of_broker();
    if (!nodes) return (void)(status = nodes.error());
    print_nodes(*nodes, *f, o->hide_header);
    status = 0;
  });
}

void add_node_describe(CLI::App& node, int& status) {
  auto* cmd = node.add_subcommand("describe", "Show one worker pool (Bacalhau's NodeState)");
  auto id = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>("yaml");
  cmd->add_option("id", *id, "The node's id (any unique prefix): local, or a remote pool's")
      ->required();
  cmd->add_option("--output", *output, "yaml or json")->capture_default_str();
  cmd->callback([&status, id, output] {
    auto f = parse_format(*output, {Format::json, Format::yaml});
    if (!f) return (void)(status = fail(f.error()));
    auto nodes = nodes_of_broker();
    if (!nodes) return (void)(status = nodes.error());
    // The node named exactly, else the only one whose id starts so.
    std::vector<json> found;
    std::string known;
    for (const auto& n : *nodes) {
      const std::string nid = n.value("id", "");
      known += (known.empty() ? "" : ", ") + nid;
      if (nid == *id) {
        found = {n};
        break;
      }
      if (nid.starts_with(*id)) found.push_back(n);
    }
    if (found.size() != 1)
      return (void)(status = fail("node '" + *id + "' " +
                                  (found.empty() ? "not found" : "is ambiguous") +
                                  " (nodes: " + (known.empty() ? "none" : known) + ")"));
    const json model = bacalhau::node_state_model(found.front());
    fmt::print("{}", *f == Format::json ? model.dump(2) + "\n" : render_yaml(model));
    status = 0;
  });
}

}  // namespace

void add_node_commands(CLI::App& app, int& status) {
  auto* node = app.add_subcommand("node", "The worker pools jobs run on");
  node->require_subcommand(1);
  add_node_list(*node, status);
  add_node_describe(*node, status);
}

}  // namespace shoal::cli
