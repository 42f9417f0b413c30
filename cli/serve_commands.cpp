// `shoal serve` (the broker in the foreground) and `shoal shutdown`.
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "broker/broker.h"
#include "broker/serve_config.h"
#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "cli/job_view.h"
#include "cli/worker_path.h"
#include "host/state_dir.h"
#include "protocol/constraints.h"
#include "protocol/units.h"

namespace shoal::client {

void add_serve_commands(CLI::App& app, int& status) {
  auto* serve = app.add_subcommand("serve", "Run the broker in the foreground");
  auto opts = std::make_shared<broker::BrokerOptions>();
  auto state = std::make_shared<std::string>();
  auto idle = std::make_shared<int>(0);
  auto quiet = std::make_shared<bool>(false);
  serve->add_option("--state-dir", *state,
                    "State directory (default: $SHOAL_HOME, else "
                    "$XDG_STATE_HOME/shoal, else ~/.local/state/shoal)");
  serve
      ->add_option("--workers", opts->workers,
                   "Local worker processes (default: one per core; 0: none, for a broker that "
                   "serves remote worker pools only)")
      ->check(CLI::Range(0, 1024));
  auto labels = std::make_shared<std::vector<std::string>>();
  serve->add_option("--listen", opts->listen,
                    "Also listen on TCP for clients on other hosts, tcp://ADDR:PORT, with CURVE "
                    "keys (docs/remote.md); worker pools connect to PORT + 1");
  serve->add_option("--listen-workers", opts->listen_workers,
                    "Where remote worker pools connect (default: --listen's PORT + 1)");
  serve->add_option("--label", *labels, "A label key=value of the local workers, for --constraints")
      ->allow_extra_args(false);
  serve->add_option("--idle-exit", *idle, "Exit after this many seconds without work (0: never)")
      ->capture_default_str();
  serve
      ->add_option("--max-attempts", opts->max_attempts,
                   "Executions per job before it fails, worker crashes included")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  serve
      ->add_option("--module-memory", opts->module_memory,
                   "Memory each worker keeps modules in, so that a module it ran before "
                   "is not sent again, e.g. 256MiB (default 128MiB)")
      ->transform(size_check(1));
  serve
      ->add_option("--max-module-size", opts->max_module_bytes,
                   "The largest module, stdin or inline input a client may send, e.g. 512MiB "
                   "(default 256MiB); a larger one is refused at submission")
      ->transform(size_check(1));
  serve
      ->add_option("--data-root", opts->data_roots,
                   "A directory whose files clients over TCP may name as inputs (repeatable; "
                   "without one they may name none)")
      ->allow_extra_args(false);
  serve
      ->add_option("--tcp-connections", opts->tcp_connections,
                   "Connections each TCP endpoint keeps at most (default: an eighth of the "
                   "open-file limit, at most 4096)")
      ->check(CLI::Range(1, 1 << 20));
  auto forget = std::make_shared<bool>(false);
  serve->add_flag("--forget-config", *forget,
                  "Remove the stored serve configuration, so that this broker and later ones "
                  "start with the defaults (docs/remote.md)");
  serve->add_flag("--quiet", *quiet, "Log only to the broker's log file, not to stderr");
  serve->add_option("--log-level", opts->log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  serve->callback([&status, opts, state, idle, quiet, labels, forget, serve] {
    if (serve->count("--workers") && opts->workers == 0) opts->workers = -1;
    auto parsed = jobs::parse_labels(*labels);
    if (!parsed) {
      status = fail(parsed.error());
      return;
    }
    opts->labels = *parsed;
    if (!state->empty()) ::setenv("SHOAL_HOME", state->c_str(), 1);
    opts->dir = host::state_dir();
    for (auto& root : opts->data_roots) {
      std::error_code ec;
      auto abs = std::filesystem::absolute(root, ec);
      if (!ec) root = abs.lexically_normal().string();
    }
    // The settings that make up the serve configuration: given, they
    // replace the stored one; none given, the stored one applies
    // (broker/serve_config.h).
    bool configured = false;
    for (const char* flag :
         {"--listen", "--listen-workers", "--label", "--data-root", "--workers", "--max-attempts",
          "--module-memory", "--max-module-size", "--tcp-connections"})
      configured |= serve->count(flag) > 0;
    if (configured) {
      opts->config_to_store = broker::serve_config_text(*opts);
    } else if (*forget) {
      if (auto r = broker::forget_serve_config(opts->dir); !r) {
        status = fail(r.error());
        return;
      }
    } else {
      auto loaded = broker::load_serve_config(*opts);
      if (!loaded) {
        status = fail(loaded.error());
        return;
      }
      if (*loaded && !*quiet)
        fmt::print(stderr, "shoal: using the serve configuration stored in {}: {}\n",
                   broker::serve_config_path(opts->dir), broker::describe_serve_config(*opts));
    }
    auto worker = worker_path();
    if (!worker) {
      status = fail(worker.error());
      return;
    }
    opts->worker_binary = *worker;
    opts->idle_exit = std::chrono::seconds(*idle);
    opts->log_to_stderr = !*quiet && *idle == 0;
    // Clients on other hosts cannot start a broker that exited: one that
    // listens on TCP stays.
    if (*idle > 0 && (!opts->listen.empty() || !opts->listen_workers.empty())) {
      if (!*quiet)
        fmt::print(stderr, "shoal: --idle-exit {} ignored: this broker listens on TCP\n", *idle);
      opts->idle_exit = std::chrono::seconds(0);
    }
    status = broker::run_broker(*opts);
  });

  auto* shutdown = app.add_subcommand("shutdown",
                                      "Stop the broker (running jobs are re-queued "
                                      "when it starts again)");
  shutdown->callback([&status] {
    auto conn = connect(false);
    if (!conn) {
      // No broker is running here: nothing to stop, which is no error. One
      // that runs but cannot be reached (another user's, or one that does
      // not answer), or a remote one, is.
      const auto dir = host::state_dir();
      const char* remote = std::getenv("SHOAL_CONNECT");
      const bool denied = ::access(dir.run_dir.c_str(), X_OK) != 0 && errno == EACCES;
      if ((!remote || !*remote) && !denied && !host::broker_running(dir)) {
        fmt::print(stderr, "shoal: no broker is running for {}; nothing to stop\n", dir.root);
        status = 0;
        return;
      }
      status = fail(conn.error());
      return;
    }
    auto r = conn->shutdown();
    status = r ? 0 : fail(r.error());
  });
}

}  // namespace shoal::client
