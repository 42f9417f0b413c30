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
  // The final component: never empty and never contains '/' except at its
  // end; "." names `dir` itself, and ".." is only ever left here by
  // FinalSymlink::never (see below). A trailing '/' of the guest's path is
  // kept ("name/"): the *at calls that create or remove an entry handle it
  // themselves, exactly as Linux does, without following anything.
  std::string name;

  // The final component without its trailing '/'. Calls that look the entry
  // up (open, stat, readlink, utimens, link's source) must use this with
  // O_NOFOLLOW / AT_SYMLINK_NOFOLLOW and check must_be_dir() themselves: the
  // kernel follows a final symlink named with a trailing slash even under
  // O_NOFOLLOW, so passing "name/" would let a symlink swapped in after the
  // walk be followed out of the sandbox.
  std::string entry() const { return must_be_dir() ? name.substr(0, name.size() - 1) : name; }
  bool must_be_dir() const { return name.size() > 1 && name.back() == '/'; }
};

// What the walk does when the final component is a symlink.
enum class FinalSymlink {
  // Expanded (a lookup with LOOKUP_FOLLOW: open, stat, utimens with follow).
  follow,
  // Left alone unless the path ends in '/', which POSIX lookups follow
  // (stat, open without follow; readlink).
  follow_if_slash,
  // Left alone even with a trailing slash, and a final ".." is kept as the
  // name instead of being popped: calls that create or remove the entry
  // itself (mkdir, rmdir, unlink, rename, symlink, link's new path). Linux
  // never follows their last component, and answers "." and ".." lexically
  // (rmdir("d/..") is ENOTEMPTY, mkdir("l/") on a dangling symlink EEXIST).
  never,
};

// Walks `path` from the host directory `base`; the caller's *at call must
// not follow the final component (AT_SYMLINK_NOFOLLOW / O_NOFOLLOW).
Result<ResolvedPath> resolve_path(int base, std::string_view path, FinalSymlink final_symlink);

// The lookup form: follow_final ? follow : follow_if_slash.
inline Result<ResolvedPath> resolve_path(int base, std::string_view path, bool follow_final) {
  return resolve_path(base, path,
                      follow_final ? FinalSymlink::follow : FinalSymlink::follow_if_slash);
}

}  // namespace shoal::wasi
