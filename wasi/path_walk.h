// Resolving a guest path beneath a directory handle, without ever leaving it.
//
// The walk goes one component at a time: each intermediate directory is
// opened with openat(O_NOFOLLOW) from the one before, so the kernel never
// follows a symlink for us and a directory swapped for a symlink mid-walk is
// seen as a symlink, not followed. Symlinks are read and expanded here, at
// most 40 in one walk (then loop). `..` pops the stack of directories we
// opened and fails with notcapable when there is nothing left to pop, as does
// an absolute path or an absolute symlink target. A NUL byte is inval.
#pragma once

#include <string>
#include <string_view>

#include "wasi/errno.h"
#include "wasi/unique_fd.h"

namespace shoal::wasi {

struct ResolvedPath {
  // Owns `dir` when the walk descended below the base directory.
  UniqueFd owned;
  // The directory holding the final component (the base, or owned.get()).
  int dir = -1;
  // The final component: never empty and never contains '/'; "." names
  // `dir` itself. A trailing '/' of the guest's path is kept ("name/") so
  // that the host call insists on a directory.
  std::string name;
};

// Walks `path` from the host directory `base`. When `follow_final` is set a
// symlink in the last component is expanded too; otherwise the last
// component is returned as it is, and the caller's *at call must not follow
// it (AT_SYMLINK_NOFOLLOW / O_NOFOLLOW).
Result<ResolvedPath> resolve_path(int base, std::string_view path, bool follow_final);

}  // namespace shoal::wasi
