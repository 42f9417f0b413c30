// Broker <-> worker messages, and the cereal binary codec the store uses too. Multipart ZeroMQ: a
// DEALER in each worker, a ROUTER in the broker. Each message is [type][cereal binary body]; the
// ROUTER adds the worker's identity in front. Heartbeats flow both ways every
// second; three missed mean the peer is gone (the Paranoid Pirate shape).
#pragma once

#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <cereal/archives/binary.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "protocol/checked_archive.h"
#include "protocol/names.h"

namespace shoal::wire {

inline constexpr int kHeartbeatMs = 1000;
inline constexpr int kHeartbeatLiveness = 3;

// Message types.
inline constexpr char kReady[] = "ready";   // worker: {Ready}
inline constexpr char kHeartbeat[] = "hb";  // both: no body
inline constexpr char kRun[] = "run";       // broker: {Run}
inline constexpr char kRuns[] = "runs";     // broker: {Runs}: several runs, to run in order
inline constexpr char kStop[] = "stop";     // broker: {exec id}
inline constexpr char kLog[] = "log";       // worker: {Log}
inline constexpr char kDone[] = "done";     // worker: {Done}
inline constexpr char kDones[] = "dones";   // worker: {Dones}: the ends of several runs
inline constexpr char kBye[] = "bye";       // broker: exit now
// Remote workers only (docs/remote.md):
inline constexpr char kNeed[] = "need";      // worker: {exec id}: send the module of this run
inline constexpr char kModule[] = "module";  // broker: {ModuleBytes}

// A file or directory to create under a remote worker's execution directory
// before the run (an input, stdin), or an output file sent back after it.
// `path` is relative and never holds "..".
struct FileEntry {
  std::string path;
  bool directory = false;
  std::string data;
  template <class A>
  void serialize(A& ar) {
    ar(path, directory, data);
  }
};

struct ModuleBytes {
  std::string hash;
  std::string bytes;
  template <class A>
  void serialize(A& ar) {
    ar(hash, bytes);
  }
};

struct Ready {
  std::string name;
  int32_t pid = 0;
  // A remote worker (`shoal worker`): the broker registers it on this message.
  bool remote = false;
  std::string host;  // its pool: "<hostname>-<pool pid>"; slots are counted per host
  std::map<std::string, std::string> labels;
  template <class A>
  void serialize(A& ar) {
    ar(name, pid, remote, host, labels);
  }
};

struct Mount {
  std::string host, guest;
  bool read_only = true;
  // The worker mounts a copy of `host` made in the run's scratch directory,
  // not `host` itself: a read-write input of a local run, whose source the
  // program must not change (jobs::InputSpec::read_write).
  bool copy = false;
  template <class A>
  void serialize(A& ar) {
    ar(host, guest, read_only, copy);
  }
};

// A module the entry module imports from, instantiated first.
struct ImportModule {
  std::string name;  // the import module name it answers to
  std::string hash;  // sha256, the compiled-module cache key
  std::string bytes;
  template <class A>
  void serialize(A& ar) {
    ar(name, hash, bytes);
  }
};

struct Run {
  std::string exec_id;
  std::string job_id;
  std::string module_hash;
  std::string module;  // the bytes
  std::string entry_point;
  std::vector<std::string> args;  // argv, [0] included
  std::vector<std::string> env;
  std::vector<Mount> mounts;
  std::string stdin_path;   // empty: an empty stdin
  std::string scratch_dir;  // for staging single-file mounts
  uint64_t timeout_ms = 0;
  uint64_t memory_bytes = 0;
  uint64_t stdout_cap = 0, stderr_cap = 0;
  // Remote runs: mount host paths and stdin_path are relative to the
  // worker's own execution directory, where `files` are created first; an
  // empty `module` means "the module with module_hash, from the host's
  // cache" (the worker asks with kNeed when it lacks it). Output files
  // (under "out/") go back in Done::outputs, within the caps.
  bool remote = false;
  std::vector<FileEntry> files;
  uint64_t output_bytes_cap = 0, output_files_cap = 0;
  std::vector<ImportModule> import_modules;  // in the order to instantiate them
  template <class A>
  void serialize(A& ar) {
    ar(exec_id, job_id, module_hash, module, entry_point, args, env, mounts, stdin_path,
       scratch_dir, timeout_ms, memory_bytes, stdout_cap, stderr_cap, remote, files,
       output_bytes_cap, output_files_cap, import_modules);
  }
};

struct Log {
  std::string exec_id;
  uint8_t stream = 1;  // 1 stdout, 2 stderr
  std::string data;
  template <class A>
  void serialize(A& ar) {
    ar(exec_id, stream, data);
  }
};

struct Done {
  std::string exec_id;
  bool completed = false;  // exited (any code); false: failed
  std::optional<int32_t> exit_code;
  std::string message;  // why it failed
  uint64_t stdout_bytes = 0, stderr_bytes = 0;
  uint64_t stdout_dropped = 0, stderr_dropped = 0;
  // Remote runs: the output files, paths relative to "out/" ("outputs/a.txt").
  std::vector<FileEntry> outputs;
  std::string outputs_message;  // what the caps left out
  // Whether the guest may have changed its output directories
  // (wasi::Environment::wrote); when not, a local run's are as the broker
  // made them and are not looked at.
  bool wrote_files = true;
  // How long the run took on the worker, in microseconds (its module's
  // instantiation and the guest); the broker hands a worker several runs
  // at once only of a module whose runs are short.
  uint64_t run_us = 0;
  template <class A>
  void serialize(A& ar) {
    ar(exec_id, completed, exit_code, message, stdout_bytes, stderr_bytes, stdout_dropped,
       stderr_dropped, outputs, outputs_message, wrote_files, run_us);
  }
};

// Batching (docs/protocol.md, "Broker and workers"). When more jobs are
// queued than workers are idle, the broker hands a local worker several
// runs of one module in one `runs` message, which the worker runs one after
// the other, in order, each a fresh instance as a single run is; it holds
// them as it would one, and a `stop` names one of them. Runs of a batch
// never carry module bytes (the worker was sent the module before; one it
// no longer holds it asks for with `need`, naming a run of the batch).
struct Runs {
  std::vector<Run> runs;
  template <class A>
  void serialize(A& ar) {
    ar(runs);
  }
};

// What a worker sends when runs end: every run's last output (`logs`, in
// the order written; each run's output before its end) and the ends, in the
// order the runs ended. A worker holding more runs sends the ends of those
// that finished together, when half of what it holds has ended, after
// kDonesHoldMs, or when it has nothing left to run; a worker with one run
// sends its end at once (a single job's latency does not grow).
struct Dones {
  std::vector<Log> logs;
  std::vector<Done> dones;
  template <class A>
  void serialize(A& ar) {
    ar(logs, dones);
  }
};
inline constexpr int kDonesHoldMs = 2;

// Whether `path` is relative, non-empty, and has no "." or ".." component:
// safe to join to a directory of ours whoever sent it (names.h).
inline bool safe_relative_path(const std::string& path) {
  return names::is_safe_relative(path);
}

template <class T>
std::string encode(const T& value) {
  std::ostringstream os;
  {
    cereal::BinaryOutputArchive ar(os);
    ar(value);
  }
  return std::move(os).str();
}

// Decodes a body; nullopt when it is malformed. Lengths are checked against
// the bytes present (checked_archive.h): a damaged or hostile length is an
// error, never an allocation.
template <class T>
std::optional<T> decode(const void* data, size_t size) {
  auto value = decode_prefix<T>(std::string_view(static_cast<const char*>(data), size));
  if (!value) return std::nullopt;
  return std::move(*value);
}

}  // namespace shoal::wire
