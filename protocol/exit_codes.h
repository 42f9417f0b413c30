// The exit statuses of shoal's commands besides a program's own
// (docs/exit-codes.md): `shoal exec` (worker/) and the client commands (cli/)
// share them, and a job's recorded exit code uses kExitTrap and kExitTimeout.
#pragma once

namespace shoal::exit_codes {

inline constexpr int kUsage = 125;       // bad flags, unreadable or unrunnable module, no broker
inline constexpr int kJobFailed = 126;   // the job ended Failed
inline constexpr int kJobStopped = 130;  // the job ended Stopped (also Ctrl-C)
inline constexpr int kTimeout = 124;     // the guest ran past --timeout; --wait-timeout-secs passed
inline constexpr int kTrap = 134;        // the guest trapped

}  // namespace shoal::exit_codes
