// `shoal exec`: run one WASI command module in this process, with no
// broker (the debugging path, like `wasmtime run`).
#pragma once

#include "protocol/exit_codes.h"

namespace shoal::worker {

// Exit statuses of `shoal exec` besides the guest's own (protocol/exit_codes.h).
inline constexpr int kExitUsage = exit_codes::kUsage;
inline constexpr int kExitTrap = exit_codes::kTrap;
inline constexpr int kExitTimeout = exit_codes::kTimeout;

// Parses `exec`'s arguments (argv[0] is the command name), runs the module
// and returns the process exit status.
int exec_command(int argc, char** argv);

}  // namespace shoal::worker
