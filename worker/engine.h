// V8 in this process: started once, then used to compile and run WASI
// command modules. Not thread-safe: one guest at a time per process.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>

#include "wasi/environment.h"
#include "worker/run_control.h"

namespace shoal::worker {

// V8's version, "10.2.154.26".
std::string v8_version();

// How a run failed before or instead of exiting.
struct RunError {
  enum class Kind {
    invalid_module,  // not wasm, or does not validate/compile
    link,            // imports something shoal does not provide
    no_entry,        // the entry point is missing or not a function
    trap,            // the guest trapped (or threw) while running
    timeout,         // the watchdog stopped the guest at its deadline
    memory_limit,    // the module needs more memory to start than allowed
    cancelled,       // RunControl::cancel() stopped it
  };
  Kind kind;
  std::string message;
};

struct RunOptions {
  std::string entry_point = "_start";
  // Caps the guest's linear memory (memory_limit.h); unset: the module's own
  // maximum, at most 4 GiB.
  std::optional<uint64_t> memory_limit;
  // Stops the guest this long after its entry point is called (a watchdog
  // thread calls TerminateExecution); unset: no limit.
  std::optional<std::chrono::nanoseconds> timeout;
  // When set, another thread may stop the run through it.
  RunControl* control = nullptr;
  // When set, the compiled module is kept in this process under this key
  // (the module's hash) and reused by later runs with the same key and
  // memory limit, instead of compiling again.
  std::string cache_key;
};

// Compiles `module` and calls its entry point with the WASI environment
// `env`. Returns the guest's exit code (0 when the entry point returns).
std::expected<uint32_t, RunError> run_wasi_command(std::span<const uint8_t> module,
                                                   wasi::Environment& env,
                                                   const RunOptions& options);

}  // namespace shoal::worker
