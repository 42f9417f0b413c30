// The broker: one process per user. Owns the job store (LMDB), the queue,
// the local worker pool, input staging, and the fan-out of logs to clients
// that follow them. Never links V8.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "host/state_dir.h"

namespace shoal::broker {

struct BrokerOptions {
  host::StateDir dir;
  std::string worker_binary;  // path of shoal-worker
  int workers = 0;            // 0: one per core; -1: none (remote pools only)
  // Exit after this long with no request and no unfinished job (0: never).
  // An auto-started broker uses it; `shoal serve` does not by default.
  std::chrono::seconds idle_exit{0};
  // Executions per job, worker crashes included; those cut by a broker
  // restart count only past the first five (broker/job_table.cpp).
  uint32_t max_attempts = 3;
  // Bytes of modules each local worker keeps in memory by hash (a worker's
  // --module-memory); 0: the worker's default.
  uint64_t module_memory = 0;
  uint64_t default_memory = 1ull << 30;  // per job, when the job sets none
  // Bytes kept per stream of a job, and the most a job's --stdout-limit
  // and --stderr-limit may ask (as Bacalhau's 1 GB per stream). Logs go to
  // the store chunk by chunk as they come; past the cap they are counted
  // and dropped, and every command that shows them says so.
  uint64_t stdout_cap = 1ull << 30;
  uint64_t stderr_cap = 1ull << 30;
  uint64_t output_bytes_cap = 1ull << 30;  // bytes of output files per job
  uint64_t output_files_cap = 10000;       // output files per job
  uint64_t input_bytes_cap = 1ull << 30;   // bytes per URL input
  // The largest module, import module, stdin or inline input a submission
  // may carry: a larger one is refused with a message naming it. A frame
  // of more than twice this is cut by ZeroMQ itself (ZMQ_MAXMSGSIZE): the
  // connection is dropped without a reply (shoal's client asks first).
  uint64_t max_module_bytes = 256ull << 20;
  std::string log_level = "info";
  bool log_to_stderr = false;  // besides the log file
  // Remote hosts (docs/remote.md): TCP endpoints with CURVE. Empty: ipc only.
  std::string listen;                         // clients, "tcp://ADDR:PORT"
  std::string listen_workers;                 // worker pools; default: listen's port + 1
  std::map<std::string, std::string> labels;  // of the local workers, for --constraints
  // Directories whose files clients over TCP may name as inputs
  // (broker/input_access.h); none: no local paths from them.
  std::vector<std::string> data_roots;
  // TCP connections kept per endpoint (broker/connection_cap.h); 0: from
  // the open-file limit.
  size_t tcp_connections = 0;
  // The HTTP API `shoal serve` runs beside the broker (api/, docs/http-api.md).
  // The broker itself never uses it: it is here so that the serve
  // configuration stores it with the rest (`shoal config set api.port`).
  struct Api {
    bool enabled = false;
    std::string host = "127.0.0.1";
    uint16_t port = 1234;
    std::string token_file;  // empty: no token (loopback only)
  } api;
  // Pilots on a cluster engine (docs/slurm.md, `shoal serve --provider
  // slurm`): batch jobs, each a `shoal worker` pool that connects to the
  // worker endpoint, submitted while jobs wait and cancelled when idle.
  struct Pilots {
    std::string provider;                    // "slurm"; empty: none
    std::string partition;                   // where pilots go unless a job names another
    int max_workers = 0;                     // pilots at most
    int min_workers = 0;                     // pilots kept even with nothing queued
    int slots = 1;                           // worker processes (CPUs) per pilot
    int time_limit_minutes = 0;              // each pilot's Slurm time limit; 0: the partition's
    int idle_seconds = 60;                   // an idle pilot is cancelled after this
    std::vector<std::string> slurm_options;  // more sbatch options, as given
    std::string connect;                     // where pilots connect; empty: the worker endpoint
  } pilots;
  // The `shoal` executable pilots run (the one running `shoal serve`).
  std::string shoal_binary;
  // The serve configuration to store in the state directory once the
  // broker is up, for brokers started later without flags
  // (broker/serve_config.h); empty: none.
  std::string config_to_store;
};

// Runs until `shoal shutdown`, SIGTERM/SIGINT, or the idle period. Returns
// the process exit status (0, or 1 with the reason logged and on stderr).
int run_broker(const BrokerOptions& options);

}  // namespace shoal::broker
