#include "wasi/fd_table.h"

namespace shoal::wasi {

Result<uint32_t> FdTable::insert(FdEntry entry) {
  if (open_ >= max_fds_) return std::unexpected(Errno::mfile);
  for (uint32_t i = 0; i < entries_.size(); ++i) {
    if (!entries_[i]) {
      entries_[i] = std::move(entry);
      ++open_;
      return i;
    }
  }
  entries_.push_back(std::move(entry));
  ++open_;
  return static_cast<uint32_t>(entries_.size() - 1);
}

Result<FdEntry*> FdTable::get(uint32_t fd) {
  if (fd >= entries_.size() || !entries_[fd]) return std::unexpected(Errno::badf);
  return &*entries_[fd];
}

Result<FdEntry*> FdTable::get(uint32_t fd, abi::Rights needed) {
  auto e = get(fd);
  if (!e) return e;
  if (((*e)->rights_base & needed) != needed) return std::unexpected(Errno::notcapable);
  return e;
}

Errno FdTable::close(uint32_t fd) {
  if (fd >= entries_.size() || !entries_[fd]) return Errno::badf;
  entries_[fd].reset();
  --open_;
  return Errno::success;
}

Errno FdTable::renumber(uint32_t from, uint32_t to) {
  if (from >= entries_.size() || !entries_[from]) return Errno::badf;
  if (to >= entries_.size() || !entries_[to]) return Errno::badf;
  if (from == to) return Errno::success;
  entries_[to] = std::move(entries_[from]);
  entries_[from].reset();
  --open_;
  return Errno::success;
}

}  // namespace shoal::wasi
