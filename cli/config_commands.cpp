// `shoal config list|get|set|unset`: the serve configuration of this user's
// state directory (broker/serve_config.h), one key at a time, as
// Bacalhau's `config` edits its own. A broker started later without flags
// (the one a client starts, a plain `shoal serve`) runs with it; a running
// one takes it when it next starts.
#include <fmt/core.h>

#include <memory>

#include "broker/serve_config.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "host/state_dir.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

// The stored configuration, {} when none is.
std::expected<json, std::string> stored_config(const host::StateDir& dir) {
  auto j = broker::read_serve_config(dir);
  if (!j) return std::unexpected(j.error());
  return j->is_null() ? json::object() : *j;
}

// Writes `config` (the state directory made first if need be) and says
// where on stderr, with when it applies.
int write_config(const host::StateDir& dir, const json& config, const std::string& what) {
  if (auto ready = host::prepare(dir); !ready) return fail(ready.error());
  if (auto r = broker::store_serve_config(dir, config.dump() + "\n"); !r) return fail(r.error());
  fmt::print(stderr, "shoal: {} in {}{}\n", what, broker::serve_config_path(dir),
             host::broker_running(dir)
                 ? "; the running broker takes it when it next starts (shoal shutdown)"
                 : "");
  return 0;
}

void add_config_list(CLI::App& config, int& status) {
  auto* cmd = config.add_subcommand("list", "List the configuration's keys and stored values");
  auto output = std::make_shared<std::string>("table");
  auto hide_header = std::make_shared<bool>(false);
  cmd->add_option("--output", *output, "table, csv, json or yaml")->capture_default_str();
  cmd->add_flag("--hide-header", *hide_header, "No header row");
  cmd->callback([&status, output, hide_header] {
    auto f = parse_format(*output, {Format::table, Format::csv, Format::json, Format::yaml});
    if (!f) return (void)(status = fail(f.error()));
    auto stored = stored_config(host::state_dir());
    if (!stored) return (void)(status = fail(stored.error()));
    json items = json::array();
    std::vector<std::vector<std::string>> rows;
    for (const auto& k : broker::serve_config_keys()) {
      auto v = broker::serve_config_value(*stored, k.key);
      items.push_back({{"Key", k.key}, {"Value", v ? json(*v) : json(nullptr)}, {"Flag", k.flag}});
      rows.push_back({k.key, v ? *v : "", k.flag, k.about});
    }
    status = 0;
    if (*f == Format::json) return (void)fmt::print("{}\n", items.dump(2));
    if (*f == Format::yaml) return (void)fmt::print("{}", render_yaml(items));
    std::vector<std::string> header = {"KEY", "VALUE", "SERVE FLAG", "MEANING"};
    fmt::print("{}", *f == Format::csv ? render_csv(header, rows, *hide_header)
                                       : render_table(header, rows, *hide_header));
  });
}

void add_config_get(CLI::App& config, int& status) {
  auto* cmd = config.add_subcommand(
      "get", "Print a key's stored value (nothing, and status 1, when it is not set)");
  auto key = std::make_shared<std::string>();
  cmd->add_option("key", *key, "A key of shoal config list (any case: API.Port)")->required();
  cmd->callback([&status, key] {
    auto k = broker::config_key(*key);
    if (!k) return (void)(status = fail(k.error()));
    auto stored = stored_config(host::state_dir());
    if (!stored) return (void)(status = fail(stored.error()));
    auto v = broker::serve_config_value(*stored, *k);
    if (v) fmt::print("{}\n", *v);
    status = v ? 0 : 1;
  });
}

void add_config_set(CLI::App& config, int& status) {
  auto* cmd =
      config.add_subcommand("set", "Set a key: shoal config set api.port 1234 (or api.port=1234)");
  auto args = std::make_shared<std::vector<std::string>>();
  cmd->add_option("key-and-values", *args, "KEY VALUE... or KEY=VALUE")->required();
  cmd->callback([&status, args] {
    std::string key = args->front();
    std::vector<std::string> values(args->begin() + 1, args->end());
    if (auto eq = key.find('='); values.empty() && eq != std::string::npos) {
      values = {key.substr(eq + 1)};
      key.resize(eq);
    }
    if (values.empty()) return (void)(status = fail("config set: give KEY VALUE or KEY=VALUE"));
    const auto dir = host::state_dir();
    auto stored = stored_config(dir);
    if (!stored) return (void)(status = fail(stored.error()));
    auto changed = broker::set_serve_config_value(*stored, key, values);
    if (!changed) return (void)(status = fail("config set: " + changed.error()));
    auto k = broker::config_key(key);
    status = write_config(dir, *changed,
                          *k + " = " + broker::serve_config_value(*changed, *k).value_or(""));
  });
}

void add_config_unset(CLI::App& config, int& status) {
  auto* cmd = config.add_subcommand("unset", "Remove a key: its default applies again");
  auto key = std::make_shared<std::string>();
  cmd->add_option("key", *key, "A key of shoal config list")->required();
  cmd->callback([&status, key] {
    const auto dir = host::state_dir();
    auto stored = stored_config(dir);
    if (!stored) return (void)(status = fail(stored.error()));
    auto changed = broker::unset_serve_config_value(*stored, *key);
    if (!changed) return (void)(status = fail("config unset: " + changed.error()));
    status = write_config(dir, *changed, *broker::config_key(*key) + " removed");
  });
}

}  // namespace

void add_config_commands(CLI::App& app, int& status) {
  auto* config = app.add_subcommand(
      "config", "The serve configuration brokers start with (shoal config set api.port 1234)");
  config->require_subcommand(1);
  add_config_list(*config, status);
  add_config_get(*config, status);
  add_config_set(*config, status);
  add_config_unset(*config, status);
}

}  // namespace shoal::cli
