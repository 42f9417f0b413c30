// `shoal keys ...` (CURVE keys and who may connect) and `shoal worker`
// (a pool of workers on this host serving a broker on another one); see
// docs/remote.md.
#include <signal.h>
#include <unistd.h>

#include <fmt/core.h>
#include <chrono>
#include <csignal>
#include <map>
#include <thread>

#include "cli/commands.h"
#include "cli/worker_path.h"
#include "host/keys.h"
#include "host/state_dir.h"
#include "host/worker_pool.h"
#include "protocol/constraints.h"

namespace shoal::cli {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_stop(int) {
  g_stop = 1;
}

// The key argument of `keys add-client/add-worker/remove`. A Z85 key may
// begin with '-', which the parser reads as an option: such a key arrives
// among the command's extras, and is taken from there when it is a key.
std::expected<std::string, std::string> key_argument(const CLI::App& cmd, const std::string& given,
                                                     std::string_view what) {
  auto extras = cmd.remaining();
  std::erase(extras, "--");
  if (given.empty() && extras.size() == 1 && host::valid_key(extras[0])) return extras[0];
  if (!extras.empty()) return std::unexpected("unexpected argument " + extras[0] + " (see --help)");
  if (given.empty()) return std::unexpected(fmt::format("{} is required", what));
  return given;
}

void add_keys_commands(CLI::App& app, int& status) {
  auto* keys = app.add_subcommand(
      "keys", "Print the broker's public key; manage the keys that may connect over TCP");
  keys->require_subcommand(0, 1);
  keys->callback([&status, keys] {
    if (!keys->get_subcommands().empty()) return;
    auto k = host::server_keys(host::state_dir());
    if (!k) {
      status = fail(k.error());
      return;
    }
    fmt::print("{}\n", k->public_key);
  });

  keys->add_subcommand("generate",
                       "Make this host's own key pair (to connect to a remote broker as a client "
                       "or worker pool) and print its public key")
      ->callback([&status] {
        auto k = host::identity_keys(host::state_dir(), true);
        if (!k) {
          status = fail(k.error());
          return;
        }
        fmt::print("{}\n", k->public_key);
      });

  for (auto role : {host::KeyRole::client, host::KeyRole::worker}) {
    bool client = role == host::KeyRole::client;
    auto* add = keys->add_subcommand(client ? "add-client" : "add-worker",
                                     client ? "Let the client with this public key connect"
                                            : "Let the worker pool with this public key connect");
    auto key = std::make_shared<std::string>();
    auto name = std::make_shared<std::string>();
    add->add_option("key", *key, "The public key (`shoal keys generate` on that host)");
    add->add_option("--name", *name,
                    "A name for the key (default: its first 8 letters and digits)");
    add->allow_extras();
    add->callback([&status, role, key, name, client, add] {
      auto given = key_argument(*add, *key, "the public key");
      if (!given) {
        status = fail(std::string(add->get_name()) + ": " + given.error());
        return;
      }
      auto r = host::add_key(host::state_dir(), role, *given, *name);
      if (!r) {
        status = fail(r.error());
        return;
      }
      fmt::print("authorised {} {}\n", client ? "client" : "worker", *r);
    });
  }

  keys->add_subcommand("list", "List the authorised client and worker keys")->callback([] {
    for (const auto& k : host::list_keys(host::state_dir()))
      fmt::print("{:<7} {:<20} {}\n", k.role == host::KeyRole::client ? "client" : "worker", k.name,
                 k.public_key);
  });

  auto* remove = keys->add_subcommand("remove", "Stop authorising a key (by name or key)");
  auto which = std::make_shared<std::string>();
  remove->add_option("key", *which, "The key's name or the key");
  remove->allow_extras();
  remove->callback([&status, which, remove] {
    auto given = key_argument(*remove, *which, "the key's name or the key");
    if (!given) {
      status = fail("remove: " + given.error());
      return;
    }
    auto r = host::remove_key(host::state_dir(), *given);
    if (!r) {
      status = fail(r.error());
      return;
    }
    fmt::print("removed {} {}\n", r->role == host::KeyRole::client ? "client" : "worker", r->name);
  });
}

struct PoolOpts {
  std::string connect, server_key, state;
  int slots = 0;
  std::vector<std::string> labels;
};

// Runs `slots` workers connected to the remote broker, starting each again
// when it exits (a worker leaves when it loses the broker, and comes back to
// wait for it), until SIGTERM or SIGINT.
int run_pool(const PoolOpts& o) {
  if (!o.state.empty()) ::setenv("SHOAL_HOME", o.state.c_str(), 1);
  host::StateDir dir = host::state_dir();
  if (!host::valid_key(o.server_key))
    return fail("--server-key " + o.server_key +
                ": not a CURVE public key (`shoal keys` on the broker's host prints it)");
  auto labels = jobs::parse_labels(o.labels);
  if (!labels) return fail(labels.error());
  if (auto r = host::prepare(dir); !r) return fail(r.error());
  auto keys = host::identity_keys(dir, false);
  if (!keys) return fail(keys.error());
  auto worker = worker_path();
  if (!worker) return fail(worker.error());
  int slots =
      o.slots > 0 ? o.slots : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  char hostname[256] = {};
  ::gethostname(hostname, sizeof hostname - 1);
  std::string host = std::string(hostname) + "-" + std::to_string(::getpid());
  std::vector<std::string> extra = {
      "--server-key", o.server_key,         "--key-file", dir.root + "/keys/identity.key",
      "--work-dir",   dir.root + "/worker", "--host",     host};
  for (const auto& [k, v] : *labels) {
    extra.push_back("--label");
    extra.push_back(k + "=" + v);
  }
  std::string log_file = dir.root + "/worker.log";
  host::WorkerPool pool(*worker, o.connect, log_file);
  pool.set_extra_args(extra);

  struct sigaction sa {};
  sa.sa_handler = on_stop;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  fmt::print(stderr, "shoal: {} workers of {} serving {} (log: {})\n", slots, host, o.connect,
             log_file);
  std::map<std::string, std::chrono::steady_clock::time_point> due;  // name -> when to start
  for (int i = 1; i <= slots; ++i) due[host + "-" + std::to_string(i)] = {};
  while (!g_stop) {
    auto now = std::chrono::steady_clock::now();
    for (auto it = due.begin(); it != due.end();) {
      if (it->second > now) {
        ++it;
        continue;
      }
      if (auto r = pool.spawn(it->first); !r) {
        fmt::print(stderr, "shoal: {}\n", r.error());
        it->second = now + std::chrono::seconds(1);
        ++it;
        continue;
      }
      it = due.erase(it);
    }
    for (const auto& dead : pool.reap()) {
      fmt::print(stderr, "shoal: worker {} {}; starting it again\n", dead.name, dead.cause);
      due[dead.name] = now + std::chrono::milliseconds(200);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  pool.stop_all();
  return 0;
}

void add_worker_command(CLI::App& app, int& status) {
  auto* cmd = app.add_subcommand(
      "worker", "Run a pool of workers on this host for a broker on another host (over TCP)");
  auto o = std::make_shared<PoolOpts>();
  cmd->add_option("--connect", o->connect,
                  "The broker's worker endpoint, tcp://HOST:PORT (its --listen port + 1)")
      ->required();
  cmd->add_option("--server-key", o->server_key, "The broker's public key (shoal keys prints it)")
      ->required();
  cmd->add_option("--slots", o->slots, "Worker processes (default: one per core)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--label", o->labels, "A label key=value of these workers, for --constraints")
      ->allow_extra_args(false);
  cmd->add_option("--state-dir", o->state, "State directory (keys, module cache, log)");
  cmd->callback([&status, o] { status = run_pool(*o); });
}

}  // namespace

void add_remote_commands(CLI::App& app, int& status) {
  add_keys_commands(app, status);
  add_worker_command(app, status);
}

}  // namespace shoal::cli
