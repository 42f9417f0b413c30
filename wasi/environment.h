// What one guest run sees: its arguments, environment variables, file
// descriptor table, and how it asked to exit.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wasi/fd_table.h"
#include "wasi/output_sink.h"
#include "wasi/staged_dir.h"

namespace shoal::wasi {

// A host directory or file offered to the guest under `guest_path`. A
// regular file is always read-only, and is seen through its guest parent
// directory, which it must not share with a directory mount (mount_plan.h).
struct Mount {
  std::string host_path;
  std::string guest_path;
  bool read_only = false;
};

struct Config {
  std::vector<std::string> args;  // args[0] is the program name
  std::vector<std::string> env;   // "KEY=VALUE"
  // Preopened in this order, as fds 3, 4, ... (docs/wasi.md); file mounts
  // sharing a guest directory share the fd of the first of them.
  std::vector<Mount> mounts;
  // Whether messages about mounts name them by their guest path only ("the
  // mount at /inputs"), not "mount HOST at GUEST": a host whose paths are
  // its own business (a worker: the broker's scratch directory) sets it.
  bool guest_terms_only = false;
  // Where the private directories of file mounts are made (staged_dir.h);
  // empty: $TMPDIR, then /tmp.
  std::string scratch_dir;
  // A host fd the guest reads as its stdin (borrowed and dup'ed), or -1
  // for an empty stdin.
  int stdin_fd = -1;
  OutputSink* stdout_sink = nullptr;
  OutputSink* stderr_sink = nullptr;
  // What fd_fdstat_get says stdout and stderr are. A character device
  // without seek rights is a terminal to wasi-libc, which then flushes
  // stdout at every newline (live logs, one write per line); any other
  // type makes it buffer stdout fully, as a C program does when its output
  // goes to a pipe or a file.
  abi::Filetype stdout_filetype = abi::Filetype::character_device;
  abi::Filetype stderr_filetype = abi::Filetype::character_device;
  uint32_t max_fds = 1024;
};

class Environment {
 public:
  // Opens every mount, staging file mounts in private directories that live
  // as long as the Environment; fails with a message naming the mount that
  // could not be opened and why.
  static std::expected<std::unique_ptr<Environment>, std::string> create(const Config& config);

  const std::vector<std::string>& args() const { return args_; }
  const std::vector<std::string>& env() const { return env_; }
  FdTable& fds() { return fds_; }

  // proc_exit: records the code; the engine unwinds the guest.
  void request_exit(uint32_t code) { exit_code_ = code; }
  std::optional<uint32_t> exit_code() const { return exit_code_; }

  // Whether the guest asked to change anything below a writable mount
  // (create, open for writing, link, rename, remove, set times), whether or
  // not it succeeded: until then every writable mount is as the host made
  // it, and whoever collects the outputs need not look.
  bool wrote() const { return wrote_; }
  void note_write() { wrote_ = true; }

  // The first guest path refused because it is outside every mount: a
  // path below the guest's "/" where nothing is mounted (FdEntry::fence: a
  // preopen after the mounts, when there are mounts and none is at "/"),
  // or one that leads out of its mount ("..", an absolute symlink).
  void note_refused(const std::string& guest_path) {
    if (!refused_) refused_ = guest_path;
  }
  const std::optional<std::string>& refused() const { return refused_; }
  // What a failed run's message adds about it, in guest terms only: "the
  // program was refused /data/x.txt: outside every mount; mounted: /inputs
  // (read-only), /outputs" (or "mounted: nothing"); "" when nothing was
  // refused.
  std::string refusal_text() const;

 private:
  explicit Environment(uint32_t max_fds) : fds_(max_fds) {}

  std::vector<std::string> args_;
  std::vector<std::string> env_;
  FdTable fds_;
  std::optional<uint32_t> exit_code_;
  bool wrote_ = false;
  std::optional<std::string> refused_;
  std::vector<std::string> mounted_;  // "/inputs (read-only)", for refusal_text()
  std::vector<StagedDir> staged_;
};

}  // namespace shoal::wasi
