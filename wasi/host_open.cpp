#include "wasi/host_open.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

namespace shoal::wasi {
namespace {

bool openable(mode_t mode) {
  return S_ISREG(mode) || S_ISDIR(mode);
}

}  // namespace

std::expected<UniqueFd, int> open_host_file(int dir, const char* name, int flags, mode_t mode,
                                            struct stat* st_out) {
  // A file that O_CREAT | O_EXCL opens is new, hence regular, and O_DIRECTORY
  // opens nothing but a directory (ENOTDIR otherwise, before any open):
  // nothing to look at first.
  const bool creates_new = (flags & O_CREAT) && (flags & O_EXCL);
  if (!creates_new && !(flags & O_DIRECTORY)) {
    struct stat st;
    const int at = (flags & O_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0;
    // A missing name (O_CREAT makes it) or a symlink under O_NOFOLLOW is
    // left to openat, which gives the errno the caller expects.
    if (::fstatat(dir, name, &st, at) == 0 && !S_ISLNK(st.st_mode) && !openable(st.st_mode))
      return std::unexpected(ENXIO);
  }
  UniqueFd fd(::openat(dir, name, flags | O_NONBLOCK | O_NOCTTY, mode));
  if (!fd.valid()) return std::unexpected(errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return std::unexpected(errno);
  if (!openable(st.st_mode)) return std::unexpected(ENXIO);
  if (st_out) *st_out = st;
  // F_SETFL changes only the status flags (O_APPEND, O_NONBLOCK, ...); the
  // caller's, without the O_NONBLOCK added above.
  if (!(flags & O_NONBLOCK) && ::fcntl(fd.get(), F_SETFL, flags) != 0)
    return std::unexpected(errno);
  return fd;
}

}  // namespace shoal::wasi
