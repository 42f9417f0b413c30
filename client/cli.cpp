#include "client/cli.h"

#include <unistd.h>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstring>
#include <vector>

#include "client/commands.h"
#include "client/version.h"
#include "client/worker_path.h"

namespace shoal::client {
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
  // A broker on another host (docs/remote.md); the same as SHOAL_CONNECT and
  // SHOAL_SERVER_KEY, which the connection reads.
  app.add_option("--connect", "A remote broker's client endpoint, tcp://HOST:PORT")
      ->envname("SHOAL_CONNECT")
      ->each([](const std::string& v) { ::setenv("SHOAL_CONNECT", v.c_str(), 1); });
  app.add_option("--server-key", "The remote broker's public key (shoal keys prints it)")
      ->envname("SHOAL_SERVER_KEY")
      ->each([](const std::string& v) { ::setenv("SHOAL_SERVER_KEY", v.c_str(), 1); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  return status;
}

}  // namespace shoal::client
