// Which modules each worker holds, as far as the broker knows, so that a
// run names a module by its hash alone to a worker that has it and carries
// its bytes only the first time (docs/architecture.md, "One job").
//
// A local worker keeps the modules it was sent in memory
// (worker/module_memo.h); the broker counts at most kWorkerModules of them
// per worker and then starts counting again. A remote worker's host keeps
// them on disk for all the workers of that host, across their restarts.
// Either may have dropped a module for room: the worker then asks for it
// (kNeed), so a wrong answer here costs a round trip, never a run.
//
// Not thread-safe: the broker's loop owns it.
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>

#include "broker/job_table.h"

namespace shoal::broker {

inline constexpr size_t kWorkerModules = 32;

class ModuleHolders {
 public:
  // Whether the worker at `place` (a remote one: its host) was sent `hash`.
  bool holds(const RunPlace& place, const std::string& hash) const;
  // `hash` is being sent to the worker at `place`.
  void sent(const RunPlace& place, const std::string& hash);
  // A local worker is gone, and what it held with it.
  void forget_worker(const std::string& name);

 private:
  std::map<std::string, std::set<std::string>> workers_;  // local worker -> hashes
  std::map<std::string, std::set<std::string>> hosts_;    // remote host -> hashes
};

}  // namespace shoal::broker
