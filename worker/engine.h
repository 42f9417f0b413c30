// V8 in this process: started once, then used to compile and run WASI
// command modules. One guest runs at a time per process (runs from several
// threads take turns); every run gets a fresh instance (fresh linear memory,
// globals and tables) in one isolate and context that the process keeps
// across runs and replaces when the isolate grew past a bound.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "wasi/environment.h"
#include "worker/run_control.h"

namespace shoal::worker {

// V8's version, "10.2.154.26".
std::string v8_version();

// The V8 flags this process runs with ("--no-wasm-dynamic-tiering
// --wasm-lazy-compilation"),
// plus SHOAL_V8_FLAGS from the environment (for experiments). Part of the
// code cache's key.
std::string v8_flags();

struct EngineSettings {
  // When set, compiled code is looked up in and stored into the code cache
  // in this directory (code_cache.h), for runs that have a cache_key.
  std::string code_cache_dir;
  // Receives one line per event worth a log entry (a corrupt cache entry,
  // a cache that could not be opened or written). Unset: discarded.
  std::function<void(const std::string&)> log;
  // Receives one line per code cache entry stored: its size, and the size
  // of the entry it replaces when a run grew it (shoal exec --verbose).
  // Unset: discarded.
  std::function<void(const std::string&)> stored;
};

// Applies to later runs of this process. A cache that cannot be opened is
// logged and left out: runs then compile as usual.
void configure_engine(EngineSettings settings);

// Work that waits until no guest runs, so that it does not delay a result:
// stores compiled code into the code cache once V8 has finished optimising
// it (until then the code is not complete and is kept for a later call),
// and collects the memory of finished runs when they used much of it.
// Returns whether code is still waiting to be stored. `wait` > 0: keep
// trying that long for V8's optimising compiler to finish, then store what
// is there as a partial entry (shoal exec, which exits afterwards).
// `release_memory`: also collect garbage and hand free heap pages back to
// the system (a worker that has been idle for a while).
bool engine_idle_work(std::chrono::milliseconds wait = std::chrono::milliseconds(0),
                      bool release_memory = false);

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

// The sentence that reports a failed run, the same for a job's message and
// for shoal exec: "the program trapped: RuntimeError: unreachable", "the
// program timed out after 2 s (--timeout)", "stopped", or the message of a
// module that could not start.
std::string run_error_text(const RunError& error);

// For a run that trapped or exited nonzero after the guest was refused a
// path outside every mount, the sentence that says so and names the mounts
// (wasi::Environment::refusal_text); "" otherwise. A job's message and
// shoal exec -v carry it.
std::string refusal_note(const std::expected<uint32_t, RunError>& result,
                         const wasi::Environment& env);

// A job's message at the end of its run: run_error_text for a failure,
// with the refusal_note after it; the note alone (or "") for an exit.
std::string run_end_message(const std::expected<uint32_t, RunError>& result,
                            const wasi::Environment& env);

// A module whose exports satisfy the main module's imports from `name`.
struct ImportModule {
  std::string name;
  std::span<const uint8_t> bytes;  // borrowed for the call
  std::string cache_key;           // as RunOptions::cache_key, for this module
};

// Where a run's compiled module came from, and what preparing it cost.
struct RunStats {
  enum class Source {
    compiled,       // validated and compiled from the module's bytes
    worker_memory,  // kept by this process from an earlier run
    code_cache,     // deserialized from the code cache
  };
  Source source = Source::compiled;
  // From the call to the entry point being ready: validation, compilation or
  // cache lookup, context and instance.
  std::chrono::nanoseconds prepare{0};
  // From the code cache, but stored before V8 had finished optimising the
  // module: some functions compile on their first call (and the entry is
  // replaced after this run).
  bool cache_partial = false;
  // When a code cache entry was found but not used: why.
  std::string cache_note;
};

struct RunOptions {
  std::string entry_point = "_start";
  // Caps the guest's linear memory (memory_limit.h); unset: the module's own
  // maximum, at most 4 GiB.
  std::optional<uint64_t> memory_limit;
  // Stops the guest this long after its instantiation starts (start
  // functions and import modules included; a watchdog thread calls
  // TerminateExecution); unset: no limit.
  std::optional<std::chrono::nanoseconds> timeout;
  // When set, another thread may stop the run through it.
  RunControl* control = nullptr;
  // The module's SHA-256 (hex). When set, the compiled module is kept in
  // this process and reused by later runs of the same module with the same
  // memory limit (its ModuleId, module_id.h), instead of compiling again;
  // and looked up in and stored to the code cache, when one is configured.
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
  // When set, filled in by the run (for the main module).
  RunStats* stats = nullptr;
};

// Compiles `module` and calls its entry point with the WASI environment
// `env`. Returns the guest's exit code (0 when the entry point returns).
std::expected<uint32_t, RunError> run_wasi_command(std::span<const uint8_t> module,
                                                   wasi::Environment& env,
                                                   const RunOptions& options);

}  // namespace shoal::worker
