// `shoal exec`: run one WASI command module in this process, with no
// broker (the debugging path, like `wasmtime run`).
#pragma once

namespace shoal::worker {

// Exit statuses of `shoal exec` besides the guest's own (docs/exit-codes.md).
inline constexpr int kExitUsage = 125;    // bad flags, unreadable or unrunnable module
inline constexpr int kExitTrap = 134;     // the guest trapped
inline constexpr int kExitTimeout = 124;  // the guest ran past --timeout

// Parses `exec`'s arguments (argv[0] is the command name), runs the module
// and returns the process exit status.
int exec_command(int argc, char** argv);

}  // namespace shoal::worker
