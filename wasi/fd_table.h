// The guest's file descriptor table: what each WASI fd refers to on the
// host, with its rights and flags.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wasi/abi.h"
#include "wasi/errno.h"
#include "wasi/output_sink.h"
#include "wasi/unique_fd.h"

namespace shoal::wasi {

struct FdEntry {
  abi::Filetype filetype = abi::Filetype::unknown;
  // The host descriptor behind a file, directory or stdin; invalid for the
  // output streams, which write to `sink` instead.
  UniqueFd host;
  OutputSink* sink = nullptr;
  abi::Rights rights_base = 0;
  abi::Rights rights_inheriting = 0;
  uint16_t fdflags = 0;
  // Set for a preopened directory: the name the guest sees it under.
  std::optional<std::string> preopen_name;
  // True when the entry lives on a read-only mount: nothing below it may be
  // written, whatever rights the guest asks for.
  bool read_only = false;
  // The guest's "/" when no mount is there (environment.h): a directory
  // with no host side, offered so that wasi-libc hands the host the paths
  // it would otherwise refuse itself; every path below it is refused
  // (notcapable, as the guest's libc would say) and noted.
  bool fence = false;
};

class FdTable {
 public:
  explicit FdTable(uint32_t max_fds) : max_fds_(max_fds) {}

  // Places the entry at the lowest free number; fails with mfile when the
  // table holds max_fds entries.
  Result<uint32_t> insert(FdEntry entry);
  // The entry at fd, or badf.
  Result<FdEntry*> get(uint32_t fd);
  // The entry at fd when it holds every right in `needed`: badf when there is
  // none, notcapable when a right is missing.
  Result<FdEntry*> get(uint32_t fd, abi::Rights needed);
  Errno close(uint32_t fd);
  // Moves `from` onto `to` (which must be open), closing what `to` held.
  Errno renumber(uint32_t from, uint32_t to);
  uint32_t open_count() const { return open_; }

 private:
  uint32_t max_fds_;
  uint32_t open_ = 0;
  std::vector<std::optional<FdEntry>> entries_;
};

}  // namespace shoal::wasi
