// `shoal agent alive|version|node|config`: the broker as Bacalhau's agent
// commands show theirs, from the same JSON as GET /api/v1/agent/*
// (docs/http-api.md), over the socket or the REST API (cli/backend.h).
// YAML by default (as Bacalhau's), or --output json; `agent version`
// prints three lines unless an --output is given.
#include <fmt/core.h>

#include <memory>

#include "cli/backend.h"
#include "cli/commands.h"
#include "cli/format.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

struct AgentOpts {
  std::string output;
  bool pretty = false;
};

void print_value(const json& value, const std::string& output, bool pretty) {
  if (output == "json")
    fmt::print("{}\n", pretty ? value.dump(2) : value.dump());
  else
    fmt::print("{}", render_yaml(value));
}

void add_agent_command(CLI::App& agent, int& status, const std::string& what,
                       const std::string& about) {
  auto* cmd = agent.add_subcommand(what, about);
  auto o = std::make_shared<AgentOpts>();
  cmd->add_option("--output", o->output, "json or yaml (default: yaml)")
      ->check(CLI::IsMember({"json", "yaml"}));
  cmd->add_flag("--pretty", o->pretty, "Indent JSON output");
  cmd->callback([&status, what, o] {
    auto backend = open_backend();
    if (!backend) return (void)(status = fail(backend.error()));
    auto value = (*backend)->agent(what);
    if (!value)
      return (void)(status = fail("could not get the agent's " + what + ": " + value.error()));
    status = 0;
    json shown = what == "config" && value->contains("config") ? (*value)["config"] : *value;
    if (what == "version" && o->output.empty()) {
      fmt::print("shoal {}\nBuildDate {}\nGitCommit {}\n", shown.value("GitVersion", ""),
                 shown.value("BuildDate", ""), shown.value("GitCommit", ""));
      return;
    }
    print_value(shown, o->output, o->pretty);
  });
}

}  // namespace

void add_agent_commands(CLI::App& app, int& status) {
  auto* agent = app.add_subcommand("agent", "The broker as an agent: alive, version, node, config");
  agent->require_subcommand(1);
  add_agent_command(*agent, status, "alive", "Whether the broker answers");
  add_agent_command(*agent, status, "version", "The broker's version");
  add_agent_command(*agent, status, "node", "The broker as a node: labels, engines, capacity");
  add_agent_command(*agent, status, "config", "The broker's configuration");
}

}  // namespace shoal::cli
