// V8 in this process: started once, then used to compile and run WASI
// command modules. Not thread-safe: one guest at a time per process.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "wasi/environment.h"
#include "worker/run_control.h"

namespace shoal::worker {

// V8's version, "10.2.154.26".
std::string v8_version();

// How a run failed before or instead of exiting.
struct RunError {
  enum class Kind {
    invalid_module,  // not wasm, or does not validate/compile
    link,            // imports something neither WASI nor an import module provides
    no_entry,        // the entry point is missing or not a function
    trap,            // the guest trapped (or threw) while running
    import_trap,     // an import module trapped while starting
    timeout,         // the watchdog stopped the guest at its deadline
    memory_limit,    // the module needs more memory to start than allowed
    cancelled,       // RunControl::cancel() stopped it
  };
  Kind kind;
  std::string message;
};

// A module whose exports satisfy the main module's imports from `name`.
struct ImportModule {
  std::string name;
  std::span<const uint8_t> bytes;  // borrowed for the call
  std::string cache_key;           // as RunOptions::cache_key, for this module
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
  // Instantiated in order before the main module, each with WASI and the
  // exports of the ones before it to import from; each then runs its start
  // function and, when it exports one, `_initialize` (a WASI reactor). The
  // main module's imports other than wasi_snapshot_preview1 must all be
  // exports of these, by module name and field, or the run fails (link)
  // before anything runs. Each module's WASI calls use its own memory;
  // they share the one WASI environment. The memory limit applies to each
  // module's memory.
  std::vector<ImportModule> import_modules;
};

// Compiles `module` and calls its entry point with the WASI environment
// `env`. Returns the guest's exit code (0 when the entry point returns).
std::expected<uint32_t, RunError> run_wasi_command(std::span<const uint8_t> module,
                                                   wasi::Environment& env,
                                                   const RunOptions& options);

}  // namespace shoal::worker
