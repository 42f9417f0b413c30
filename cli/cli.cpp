#include "cli/cli.h"

#include <unistd.h>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "cli/backend.h"
#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "cli/manual.h"
#include "cli/version.h"
#include "cli/worker_path.h"

namespace shoal::cli {
namespace {

// `shoal exec` runs in the worker binary, which embeds V8; the client
// replaces itself with it so that signals, stdio and the exit status are
// the program's own.
int exec_in_worker(int argc, char** argv) {
  auto worker = worker_path();
  if (!worker) {
    fmt::print(stderr, "shoal: {}\n", worker.error());
    return kExitUsage;
  }
  std::vector<char*> args;
  args.push_back(const_cast<char*>("shoal-worker"));
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);  // "exec" and what follows
  args.push_back(nullptr);
  ::execv(worker->c_str(), args.data());
  fmt::print(stderr, "shoal: cannot run {}: {}\n", *worker, std::strerror(errno));
  return kExitUsage;
}

// Edits between two words (Levenshtein), for "did you mean".
size_t distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string path_of(const CLI::App* cmd) {
  std::string path;
  for (const CLI::App* c = cmd; c; c = c->get_parent())
    path = c->get_name() + (path.empty() ? "" : " " + path);
  return path;
}

// Follows the words of the command line down the tree of commands, before
// CLI11 parses it, to answer what CLI11 would answer badly: a command that
// needs a subcommand and was given none prints its help; a word that is no
// command is named, with the nearest one. Null when the line is for CLI11.
std::optional<int> guide(CLI::App& app, int argc, char** argv) {
  CLI::App* cmd = &app;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.starts_with("-")) return std::nullopt;  // flags: CLI11's
    auto subs = cmd->get_subcommands([](CLI::App*) { return true; });
    if (subs.empty()) return std::nullopt;  // arguments: CLI11's
    CLI::App* next = nullptr;
    for (CLI::App* sub : subs)
      if (sub->check_name(word)) next = sub;
    if (!next) {
      std::string best;
      size_t best_distance = 3;  // suggest only what is close
      for (CLI::App* sub : subs)
        if (size_t d = distance(word, sub->get_name()); d < best_distance)
          best = sub->get_name(), best_distance = d;
      fmt::print(
          stderr, "shoal: unknown command '{}' for '{}'{}\nRun '{} --help' for its commands.\n",
          word, path_of(cmd), best.empty() ? "" : "; did you mean '" + best + "'?", path_of(cmd));
      return kExitUsage;
    }
    cmd = next;
  }
  if (cmd->get_require_subcommand_min() > 0) {
    fmt::print("{}", cmd->help());
    return 0;
  }
  return std::nullopt;
}

// For an argument CLI11 did not expect: the deepest command parsed, and the
// first unexpected word that looks like a flag (else the first one).
std::string unexpected_argument(const CLI::App& app) {
  const CLI::App* cmd = &app;
  for (;;) {
    auto parsed = cmd->get_subcommands();
    if (parsed.empty()) break;
    cmd = parsed.front();
  }
  const auto extras = cmd->remaining();
  std::string first;
  for (const auto& e : extras)
    if (e.starts_with("-") && e != "--") {
      first = e;
      break;
    }
  const bool is_flag = !first.empty();
  if (!is_flag && !extras.empty()) first = extras.front();
  std::string message = "shoal: " + path_of(cmd) + ": unknown " +
                        (is_flag ? "flag " : "argument ") + first + " (see " + path_of(cmd) +
                        " --help)";
  if (is_flag && cmd->get_name() == "run" && cmd->get_parent() &&
      cmd->get_parent()->get_name() == "wasm")
    message +=
        "; arguments for the program itself that start with '-' go after --: shoal wasm "
        "run prog.wasm -e K=V -- " +
        first;
  return message;
}

// "job describe" for `shoal --api-port 1 job describe ID`: the words of
// the command line that name commands, for messages.
std::string command_words(CLI::App& app, int argc, char** argv) {
  CLI::App* cmd = &app;
  std::string words;
  for (int i = 1; i < argc; ++i) {
    CLI::App* next = nullptr;
    for (CLI::App* sub : cmd->get_subcommands([](CLI::App*) { return true; }))
      if (sub->check_name(argv[i])) next = sub;
    if (!next) continue;
    words += (words.empty() ? "" : " ") + next->get_name();
    cmd = next;
  }
  return words;
}

}  // namespace

int fail(const std::string& message) {
  fmt::print(stderr, "shoal: {}\n", message);
  return kExitUsage;
}

int run_cli(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "exec") == 0) return exec_in_worker(argc, argv);

  CLI::App app{"shoal runs WebAssembly (WASI) programs as batch jobs.", "shoal"};
  app.set_version_flag("--version", version_line());
  app.require_subcommand(1);
  app.add_subcommand("exec",
                     "Run a WASI program here and now, without the broker "
                     "(shoal exec --help)");
  int status = 0;
  add_wasm_commands(app, status);
  add_job_commands(app, status);
  add_serve_commands(app, status);
  add_remote_commands(app, status);
  add_store_commands(app, status);
  add_config_commands(app, status);
  add_agent_commands(app, status);
  add_node_commands(app, status);
  add_manual_commands(app);
  check_unsigned_options(app);
  // A broker on another host (docs/remote.md); the same as SHOAL_CONNECT and
  // SHOAL_SERVER_KEY, which the connection reads.
  app.add_option("--connect", "A remote broker's client endpoint, tcp://HOST:PORT")
      ->envname("SHOAL_CONNECT")
      ->each([](const std::string& v) { ::setenv("SHOAL_CONNECT", v.c_str(), 1); });
  app.add_option("--server-key", "The remote broker's public key (shoal keys prints it)")
      ->envname("SHOAL_SERVER_KEY")
      ->each([](const std::string& v) { ::setenv("SHOAL_SERVER_KEY", v.c_str(), 1); });
  // Bacalhau's --api-host/--api-port: commands talk HTTP to that REST API
  // (cli/backend.h); the same as SHOAL_API_HOST/SHOAL_API_PORT, which
  // api_endpoint() reads (else Bacalhau's BACALHAU_API_HOST/PORT).
  app.add_option("--api-host",
                 "Talk to shoal's REST API on this host (or http://HOST:PORT) instead of the "
                 "local broker's socket")
      ->envname("SHOAL_API_HOST")
      ->each([](const std::string& v) { ::setenv("SHOAL_API_HOST", v.c_str(), 1); });
  app.add_option("--api-port", "The REST API's port (default 1234)")
      ->envname("SHOAL_API_PORT")
      ->each([](const std::string& v) { ::setenv("SHOAL_API_PORT", v.c_str(), 1); });
  // Bacalhau's `help` and `version` commands.
  auto* help = app.add_subcommand("help", "Help about any command: shoal help job list");
  help->allow_extras();
  app.add_subcommand("version", "Print shoal's version and V8's")->callback([] {
    fmt::print("{}\n", version_line());
  });
  if (argc >= 2 && std::strcmp(argv[1], "help") == 0) {
    // `shoal help job list` is `shoal job list --help`.
    std::vector<char*> args(argv, argv + argc);
    args.erase(args.begin() + 1);
    args.push_back(const_cast<char*>("--help"));
    return run_cli(static_cast<int>(args.size()), args.data());
  }
  if (auto guided = guide(app, argc, argv)) return *guided;
  set_command_name(command_words(app, argc, argv));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ExtrasError&) {
    fmt::print(stderr, "{}\n", unexpected_argument(app));
    return kExitUsage;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    fmt::print(stderr, "shoal: {}\n", e.what());
    return kExitUsage;
  }
  return status;
}

}  // namespace shoal::cli
