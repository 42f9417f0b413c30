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
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

namespace shoal::wire {

inline constexpr int kHeartbeatMs = 1000;
inline constexpr int kHeartbeatLiveness = 3;

// Message types.
inline constexpr char kReady[] = "ready";   // worker: {Ready}
inline constexpr char kHeartbeat[] = "hb";  // both: no body
inline constexpr char kRun[] = "run";       // broker: {Run}
inline constexpr char kStop[] = "stop";     // broker: {exec id}
inline constexpr char kLog[] = "log";       // worker: {Log}
inline constexpr char kDone[] = "done";     // worker: {Done}
inline constexpr char kBye[] = "bye";       // broker: exit now

struct Ready {
  std::string name;
  int32_t pid = 0;
  template <class A>
  void serialize(A& ar) {
    ar(name, pid);
  }
};

struct Mount {
  std::string host, guest;
  bool read_only = true;
  template <class A>
  void serialize(A& ar) {
    ar(host, guest, read_only);
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
  std::vector<ImportModule> import_modules;  // in the order to instantiate them
  template <class A>
  void serialize(A& ar) {
    ar(exec_id, job_id, module_hash, module, entry_point, args, env, mounts, stdin_path,
       scratch_dir, timeout_ms, memory_bytes, stdout_cap, stderr_cap, import_modules);
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
  template <class A>
  void serialize(A& ar) {
    ar(exec_id, completed, exit_code, message, stdout_bytes, stderr_bytes, stdout_dropped,
       stderr_dropped);
  }
};

template <class T>
std::string encode(const T& value) {
  std::ostringstream os;
  {
    cereal::BinaryOutputArchive ar(os);
    ar(value);
  }
  return std::move(os).str();
}

// Decodes a body; nullopt when it is malformed.
template <class T>
std::optional<T> decode(const void* data, size_t size) {
  try {
    std::istringstream is(std::string(static_cast<const char*>(data), size));
    cereal::BinaryInputArchive ar(is);
    T value;
    ar(value);
    return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace shoal::wire
