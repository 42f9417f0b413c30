// The subcommands of `shoal`, each added to the CLI11 app by its own file.
// A command's callback stores the process exit status in `status`.
#pragma once

#include <CLI/CLI.hpp>

#include "protocol/exit_codes.h"

namespace shoal::cli {

// Exit statuses of client commands (protocol/exit_codes.h).
inline constexpr int kExitUsage = exit_codes::kUsage;
inline constexpr int kExitJobFailed = exit_codes::kJobFailed;
inline constexpr int kExitJobStopped = exit_codes::kJobStopped;
inline constexpr int kExitWaitTimeout = exit_codes::kTimeout;  // the job goes on

void add_wasm_commands(CLI::App& app, int& status);     // wasm_run.cpp
void add_job_commands(CLI::App& app, int& status);      // job_commands.cpp
void add_serve_commands(CLI::App& app, int& status);    // serve_commands.cpp
void add_remote_commands(CLI::App& app, int& status);   // remote_commands.cpp: keys, worker
void add_store_commands(CLI::App& app, int& status);    // store_commands.cpp: doctor, compact
void add_config_commands(CLI::App& app, int& status);   // config_commands.cpp
void add_agent_commands(CLI::App& app, int& status);    // agent_commands.cpp
void add_job_run_commands(CLI::App& job, int& status);  // job_run.cpp: job run, job validate
void add_node_commands(CLI::App& app, int& status);     // node_commands.cpp: node list, describe
void add_job_rerun(CLI::App& job, int& status);         // job_rerun.cpp

struct WaitOptions;
// --wait, --wait-timeout-secs, --id-only, -f/--follow (wasm_run.cpp).
void add_wait_flags(CLI::App& cmd, WaitOptions& wait);

// --pretty: JSON indented (Bacalhau's flag; its JSON is one line without
// it). YAML is unchanged (job_view.cpp).
void add_pretty_flag(CLI::App& cmd, bool& pretty);

// Prints "shoal: message" on stderr and returns kExitUsage.
int fail(const std::string& message);

}  // namespace shoal::cli
