// `shoal serve` (the broker in the foreground) and `shoal shutdown`.
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "api/server.h"
#include "broker/broker.h"
#include "broker/serve_config.h"
#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "cli/job_view.h"
#include "cli/worker_path.h"
#include "host/state_dir.h"
#include "protocol/constraints.h"
#include "protocol/units.h"

namespace shoal::cli {

namespace {

// `shoal serve`'s flags, as typed.
struct ServeFlags {
  broker::BrokerOptions opts;
  std::string state;
  unsigned idle = 0;
  bool quiet = false, forget = false;
  std::vector<std::string> labels;
  std::string api_host = "127.0.0.1", api_token_file;
  uint16_t api_port = 1234;
  size_t api_max_connections = 0;
  size_t api_max_log_streams = api::kDefaultLogStreams;
  std::string time_limit, idle_time;
};

// The flags of pilots on a cluster engine (docs/slurm.md).
void add_pilot_flags(CLI::App& serve, ServeFlags& f) {
  auto& p = f.opts.pilots;
  serve
      .add_option("--provider", p.provider,
                  "Run workers as pilot jobs on a cluster engine, grown and shrunk with the "
                  "queue (docs/slurm.md): slurm")
      ->check(CLI::IsMember({"slurm"}));
  serve.add_option("--slurm-partition", p.partition,
                   "The Slurm partition pilots go to unless a job's constraints name another "
                   "(slurm.partition=NAME)");
  serve.add_option("--max-workers", p.max_workers, "Pilots at most")->check(CLI::Range(1, 10000));
  serve
      .add_option("--min-workers", p.min_workers,
                  "Pilots kept even with nothing queued (default 0)")
      ->check(CLI::Range(0, 10000));
  serve
      .add_option("--slots-per-worker", p.slots,
                  "Worker processes (one CPU each) per pilot (default 1)")
      ->check(CLI::Range(1, 1024));
  serve.add_option("--worker-time-limit", f.time_limit,
                   "Each pilot's Slurm time limit, e.g. 30m, 2h (default: the partition's)");
  serve.add_option("--worker-idle-time", f.idle_time,
                   "An idle pilot is cancelled after this long, e.g. 60s (default)");
  serve
      .add_option("--slurm-option", p.slurm_options,
                  "One more sbatch option, as --slurm-option=--qos=high (repeatable)")
      ->allow_extra_args(false);
  serve.add_option("--pilot-connect", p.connect,
                   "Where pilots connect, tcp://HOST:PORT (default: the worker endpoint, a "
                   "wildcard address replaced by this host's name)");
}

// The pilot flags' durations and checks into f.opts.pilots; with
// --provider and no TCP endpoint, pilots connect to port 7701.
std::expected<void, std::string> pilots_from_flags(CLI::App& serve, ServeFlags& f) {
  auto& p = f.opts.pilots;
  auto minutes = [](const std::string& flag, const std::string& text,
                    double unit) -> std::expected<int, std::string> {
    auto s = units::parse_duration(text, 366.0 * 86400);
    if (!s) return std::unexpected(flag + ": " + s.error());
    return static_cast<int>(std::ceil(*s / unit));
  };
  if (!f.time_limit.empty()) {
    auto m = minutes("--worker-time-limit", f.time_limit, 60);
    if (!m) return std::unexpected(m.error());
    p.time_limit_minutes = *m;
  }
  if (!f.idle_time.empty()) {
    auto s = minutes("--worker-idle-time", f.idle_time, 1);
    if (!s) return std::unexpected(s.error());
    p.idle_seconds = *s;
  }
  if (p.provider.empty()) {
    for (const char* flag :
         {"--slurm-partition", "--max-workers", "--min-workers", "--slots-per-worker",
          "--worker-time-limit", "--worker-idle-time", "--slurm-option", "--pilot-connect"})
      if (serve.count(flag)) return std::unexpected(std::string(flag) + " needs --provider slurm");
    return {};
  }
  if (p.partition.empty() || p.max_workers < 1)
    return std::unexpected(std::string(
        "--provider slurm needs --slurm-partition NAME and --max-workers N (docs/slurm.md)"));
  if (p.min_workers > p.max_workers)
    return std::unexpected(std::string("--min-workers is more than --max-workers"));
  if (!serve.count("--workers")) f.opts.workers = -1;  // the pilots are the workers
  if (f.opts.listen.empty() && f.opts.listen_workers.empty())
    f.opts.listen_workers = "tcp://0.0.0.0:7701";
  return {};
}

void add_api_flags(CLI::App& serve, ServeFlags& f) {
  serve.add_option("--api-host", f.api_host,
                   "Serve Bacalhau's REST API (docs/http-api.md) on this address (default "
                   "127.0.0.1; any other needs --api-token-file)");
  serve.add_option("--api-port", f.api_port,
                   "Serve Bacalhau's REST API on this port (default 1234 when --api-host is "
                   "given; without either flag there is no API)");
  serve.add_option("--api-token-file", f.api_token_file,
                   "A file holding the bearer token every API request must carry "
                   "(Authorization: Bearer TOKEN); required off the loopback address");
  serve.add_option("--api-max-connections", f.api_max_connections,
                   "The most HTTP connections the API holds at once, log streams included; "
                   "more are answered 503 (default: a quarter of the open-file limit, at most "
                   "4096)");
  serve
      .add_option("--api-max-log-streams", f.api_max_log_streams,
                  "The most job log streams (WebSockets) the API serves at once, each with a "
                  "thread and a broker connection; one more gets an error frame saying so")
      ->check(CLI::Range(size_t{1}, api::kMaxLogStreams))
      ->default_val(api::kDefaultLogStreams);
}

// A line the API logs: appended to the broker's log file, in its format,
// and on stderr unless --quiet.
void api_log(const std::string& log_file, bool quiet, const std::string& text) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::localtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
  const std::string line = fmt::format("[{}.{:03}] [api] [warning] {}\n", stamp, ms, text);
  if (std::FILE* f = std::fopen(log_file.c_str(), "ae")) {
    std::fputs(line.c_str(), f);
    std::fclose(f);
  }
  if (!quiet) fmt::print(stderr, "shoal: {}\n", text);
}

// The API settings of --api-host/--api-port/--api-token-file into f.opts.api
// (stored with the rest of the serve configuration); none given: unchanged.
void api_from_flags(CLI::App& serve, ServeFlags& f) {
  if (!serve.count("--api-host") && !serve.count("--api-port")) return;
  f.opts.api.enabled = true;
  f.opts.api.host = f.api_host;
  f.opts.api.port = f.api_port;
  if (!f.api_token_file.empty()) {
    std::error_code ec;
    auto abs = std::filesystem::absolute(f.api_token_file, ec);
    f.opts.api.token_file = ec ? f.api_token_file : abs.lexically_normal().string();
  }
}

// The API server, when the flags or the stored serve configuration ask for
// one; null otherwise.
std::expected<std::unique_ptr<api::Server>, std::string> start_api(const ServeFlags& f) {
  const auto& a = f.opts.api;
  if (!a.enabled) return std::unique_ptr<api::Server>();
  api::ApiOptions o;
  o.host = a.host;
  o.port = a.port;
  o.state_dir = f.opts.dir.root;
  o.workers = f.opts.workers;
  o.labels = f.opts.labels;
  o.max_connections = f.api_max_connections;
  o.max_log_streams = f.api_max_log_streams;
  o.log = [file = f.opts.dir.log_file, quiet = f.quiet](const std::string& text) {
    api_log(file, quiet, text);
  };
  if (!a.token_file.empty()) {
    auto token = api::read_token_file(a.token_file);
    if (!token) return std::unexpected(token.error());
    o.token = *token;
  }
  auto server = api::Server::start(o);
  if (server && !f.quiet)
    fmt::print(stderr, "shoal: serving the REST API on http://{}:{}/api/v1/\n", a.host,
               (*server)->port());
  return server;
}

void add_serve_flags(CLI::App& serve, ServeFlags& f) {
  serve.add_option("--state-dir", f.state,
                   "State directory (default: $SHOAL_HOME, else "
                   "$XDG_STATE_HOME/shoal, else ~/.local/state/shoal)");
  serve
      .add_option("--workers", f.opts.workers,
                  "Local worker processes (default: one per core; 0: none, for a broker that "
                  "serves remote worker pools only)")
      ->check(CLI::Range(0, 1024));
  serve.add_option("--listen", f.opts.listen,
                   "Also listen on TCP for clients on other hosts, tcp://ADDR:PORT, with CURVE "
                   "keys (docs/remote.md); worker pools connect to PORT + 1");
  serve.add_option("--listen-workers", f.opts.listen_workers,
                   "Where remote worker pools connect (default: --listen's PORT + 1)");
  serve
      .add_option("--label", f.labels, "A label key=value of the local workers, for --constraints")
      ->allow_extra_args(false);
  serve.add_option("--idle-exit", f.idle, "Exit after this many seconds without work (0: never)")
      ->capture_default_str();
  serve
      .add_option("--max-attempts", f.opts.max_attempts,
                  "Executions per job before it fails, worker crashes included")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  serve
      .add_option("--module-memory", f.opts.module_memory,
                  "Memory each worker keeps modules in, so that a module it ran before "
                  "is not sent again, e.g. 256MiB (default 128MiB)")
      ->transform(size_check(1));
  serve
      .add_option("--max-module-size", f.opts.max_module_bytes,
                  "The largest module, stdin or inline input a client may send, e.g. 512MiB "
                  "(default 256MiB); a larger one is refused at submission")
      ->transform(size_check(1));
  serve
      .add_option("--data-root", f.opts.data_roots,
                  "A directory whose files clients over TCP may name as inputs (repeatable; "
                  "without one they may name none)")
      ->allow_extra_args(false);
  serve
      .add_option("--tcp-connections", f.opts.tcp_connections,
                  "Connections each TCP endpoint keeps at most (default: an eighth of the "
                  "open-file limit, at most 4096)")
      ->check(CLI::Range(1, 1 << 20));
  serve.add_flag("--forget-config", f.forget,
                 "Remove the stored serve configuration, so that this broker and later ones "
                 "start with the defaults (docs/remote.md)");
  serve.add_flag("--quiet", f.quiet, "Log only to the broker's log file, not to stderr");
  serve.add_option("--log-level", f.opts.log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  add_api_flags(serve, f);
  add_pilot_flags(serve, f);
}

// The serve configuration: flags that make it up replace the stored one;
// none given, the stored one applies (broker/serve_config.h).
std::expected<void, std::string> apply_serve_config(CLI::App& serve, ServeFlags& f) {
  bool configured = false;
  for (const char* flag :
       {"--listen", "--listen-workers", "--label", "--data-root", "--workers", "--max-attempts",
        "--module-memory", "--max-module-size", "--tcp-connections", "--api-host", "--api-port",
        "--api-token-file", "--provider"})
    configured |= serve.count(flag) > 0;
  if (configured) {
    f.opts.config_to_store = broker::serve_config_text(f.opts);
  } else if (f.forget) {
    if (auto r = broker::forget_serve_config(f.opts.dir); !r) return std::unexpected(r.error());
  } else {
    auto loaded = broker::load_serve_config(f.opts);
    if (!loaded) return std::unexpected(loaded.error());
    if (*loaded && !f.quiet)
      fmt::print(stderr, "shoal: using the serve configuration stored in {}: {}\n",
                 broker::serve_config_path(f.opts.dir), broker::describe_serve_config(f.opts));
  }
  return {};
}

// Runs the broker as `f` says; the exit status.
int run_serve(CLI::App& serve, ServeFlags& f) {
  if (serve.count("--workers") && f.opts.workers == 0) f.opts.workers = -1;
  auto parsed = jobs::parse_labels(f.labels);
  if (!parsed) return fail(parsed.error());
  f.opts.labels = *parsed;
  if (!f.state.empty()) ::setenv("SHOAL_HOME", f.state.c_str(), 1);
  f.opts.dir = host::state_dir();
  for (auto& root : f.opts.data_roots) {
    std::error_code ec;
    auto abs = std::filesystem::absolute(root, ec);
    if (!ec) root = abs.lexically_normal().string();
  }
  api_from_flags(serve, f);
  if (auto ok = pilots_from_flags(serve, f); !ok) return fail(ok.error());
  if (auto ok = apply_serve_config(serve, f); !ok) return fail(ok.error());
  auto worker = worker_path();
  if (!worker) return fail(worker.error());
  f.opts.worker_binary = *worker;
  char self[4096] = {};
  if (::readlink("/proc/self/exe", self, sizeof self - 1) > 0) f.opts.shoal_binary = self;
  f.opts.idle_exit = std::chrono::seconds(f.idle);
  f.opts.log_to_stderr = !f.quiet && f.idle == 0;
  // Clients on other hosts cannot start a broker that exited: one that
  // listens on TCP stays.
  if (f.idle > 0 && (!f.opts.listen.empty() || !f.opts.listen_workers.empty())) {
    if (!f.quiet)
      fmt::print(stderr, "shoal: --idle-exit {} ignored: this broker listens on TCP\n", f.idle);
    f.opts.idle_exit = std::chrono::seconds(0);
  }
  auto api_server = start_api(f);
  if (!api_server) {
    // Asked for on this command line: refused. Asked for by the stored
    // configuration (a broker started by a client): the broker still runs,
    // without the API, and says why in its log and on stderr.
    if (serve.count("--api-host") || serve.count("--api-port")) return fail(api_server.error());
    fmt::print(stderr, "shoal: the REST API of the serve configuration ({}) was not started: {}\n",
               broker::serve_config_path(f.opts.dir), api_server.error());
  }
  return broker::run_broker(f.opts);
}

void add_shutdown_command(CLI::App& app, int& status) {
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

}  // namespace

void add_serve_commands(CLI::App& app, int& status) {
  auto* cmd = app.add_subcommand("serve", "Run the broker in the foreground");
  auto f = std::make_shared<ServeFlags>();
  add_serve_flags(*cmd, *f);
  cmd->callback([&status, f, cmd] { status = run_serve(*cmd, *f); });
  add_shutdown_command(app, status);
}

}  // namespace shoal::cli
