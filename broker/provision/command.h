// Runs a program as a child process with an argument vector (never a shell
// string), gives it `input` on stdin and collects its stdout and stderr,
// within a deadline. Used by the provisioners to run a cluster engine's
// commands (sbatch, squeue, scancel). Thread-safe: each call is its own
// child; callable from any thread.
#pragma once

#include <chrono>
#include <expected>
#include <string>
#include <vector>

namespace shoal::broker::provision {

struct CommandResult {
  int status = 0;  // the exit status; 128 + N when killed by signal N
  std::string out, err;
};

// The program's result, whatever its exit status. Fails (naming the
// program) only when it cannot be started, or did not end within
// `deadline` (it is then killed).
std::expected<CommandResult, std::string> run_command(
    const std::vector<std::string>& argv, const std::string& input = "",
    std::chrono::milliseconds deadline = std::chrono::seconds(30));

// "sbatch --parsable -p gpu": the argument vector for messages.
std::string command_text(const std::vector<std::string>& argv);

}  // namespace shoal::broker::provision
