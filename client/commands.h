// The subcommands of `shoal`, each added to the CLI11 app by its own file.
// A command's callback stores the process exit status in `status`.
#pragma once

#include <CLI/CLI.hpp>

namespace shoal::client {

// Exit statuses of client commands (docs/exit-codes.md).
inline constexpr int kExitUsage = 125;        // bad flags, unreadable files, no broker
inline constexpr int kExitJobFailed = 126;    // the job ended Failed
inline constexpr int kExitJobStopped = 130;   // the job ended Stopped
inline constexpr int kExitWaitTimeout = 124;  // --wait-timeout-secs passed; the job goes on

void add_wasm_commands(CLI::App& app, int& status);     // wasm_run.cpp
void add_job_commands(CLI::App& app, int& status);      // job_commands.cpp
void add_serve_commands(CLI::App& app, int& status);    // serve_commands.cpp
void add_remote_commands(CLI::App& app, int& status);   // remote_commands.cpp: keys, worker
void add_store_commands(CLI::App& app, int& status);    // store_commands.cpp: doctor, compact
void add_job_run_commands(CLI::App& job, int& status);  // job_run.cpp: job run, job validate

struct WaitOptions;
// --wait, --wait-timeout-secs, --id-only, -f/--follow (wasm_run.cpp).
void add_wait_flags(CLI::App& cmd, WaitOptions& wait);

// Prints "shoal: message" on stderr and returns kExitUsage.
int fail(const std::string& message);

}  // namespace shoal::client
