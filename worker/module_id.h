// What makes two runs' compiled code interchangeable: a module's identity
// in the worker's caches of compiled code.
//
// The module's SHA-256 (of its bytes as sent, hex, as the protocol names
// modules) and the memory limit its memory section was rewritten to
// (memory_limit.h): one module under two limits is two modules to V8. A
// run without a SHA-256 (shoal exec with --no-code-cache) keeps nothing.
//
// The worker caches by module identity in three places, each for its own
// reason:
// - ModuleMemo (module_memo.h, the pool worker's): the bytes, by SHA-256
//   alone (bytes do not depend on a limit), so that the broker can name a
//   module it sent before instead of sending it again.
// - the engine's kept modules (engine.cpp), by ModuleId: V8's compiled
//   module and the imports and exports read from it, so that a later run
//   in this process neither reads, rewrites nor compiles it again; and, in
//   the same entry, the current isolate's module object, so that it is not
//   made again either.
// - the code cache (code_cache.h), by code_cache_key(): ModuleId plus what
//   else makes code differ across processes (V8's version and flags, the
//   trap handler), so that a new process deserializes instead of compiling.
#pragma once

#include <cstdint>
#include <string>

namespace shoal::worker {

struct ModuleId {
  std::string sha256;         // empty: keep nothing of this module
  uint64_t memory_limit = 0;  // 0: the module's own maximum

  bool kept() const { return !sha256.empty(); }
  // "SHA256:LIMIT", the key of this process's kept modules.
  std::string key() const { return sha256 + ":" + std::to_string(memory_limit); }
};

}  // namespace shoal::worker
