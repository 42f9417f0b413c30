// Calls that name a path beneath a directory fd. Every one resolves the
// path with resolve_path (path_walk.h) and then acts on the final component
// with an *at call that does not follow symlinks.
//
// Calls that look an entry up (open, stat, utimens, readlink, link's source)
// follow a final symlink when asked, and always when the path ends in '/';
// they hand the kernel the name without its slash and check for a
// directory themselves. Calls that create or remove the entry itself
// (mkdir, rmdir, unlink, rename, symlink, link's new path) never follow it,
// and hand the kernel the name as written, trailing slash included, so that
// the errno is Linux's own (rmdir("link/") is ENOTDIR, not a removal of the
// link's target).
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "wasi/calls.h"
#include "wasi/file_stat.h"
#include "wasi/host_open.h"
#include "wasi/path_walk.h"

namespace shoal::wasi::calls {
namespace {

// The directory entry behind fd, with `needed` rights; rofs when the call
// would write (`writes`) below a read-only mount. A call that may write
// below a writable one is noted (Environment::wrote).
Result<FdEntry*> directory(Env& env, Fd fd, Rights needed, bool writes) {
  auto e = env.fds().get(fd);
  if (!e) return e;
  if ((*e)->filetype != abi::Filetype::directory) return std::unexpected(Errno::notdir);
  if (writes && (*e)->read_only) return std::unexpected(Errno::rofs);
  if (((*e)->rights_base & needed) != needed) return std::unexpected(Errno::notcapable);
  if (writes) env.note_write();
  return e;
}

// Reads the guest's path and resolves it beneath the directory. A path
// below the fence (the guest's "/" where nothing is mounted), or one that
// leads out of its mount, is refused with notcapable and noted
// (Environment::note_refused) by its guest path.
Result<ResolvedPath> resolve(Env& env, Mem& mem, FdEntry* dir, Ptr ptr, Size len,
                             FinalSymlink final_symlink) {
  auto path = mem.string(ptr, len);
  if (!path) return std::unexpected(path.error());
  auto guest_path = [&] {
    std::string named(*path);
    if (!dir->preopen_name) return named;
    const std::string& base = *dir->preopen_name;
    return base + (base.ends_with("/") ? "" : "/") + named;
  };
  if (dir->fence) {
    env.note_refused(guest_path());
    return std::unexpected(Errno::notcapable);
  }
  auto resolved = resolve_path(dir->host.get(), *path, final_symlink);
  if (!resolved && resolved.error() == Errno::notcapable) env.note_refused(guest_path());
  return resolved;
}

// For lookups: follow the final symlink when the guest's lookupflags say so.
FinalSymlink lookup(LookupFlags flags) {
  return (flags & abi::lookupflag::symlink_follow) ? FinalSymlink::follow
                                                   : FinalSymlink::follow_if_slash;
}

// A lookup of "name/" must find a directory: notdir otherwise, as the kernel
// would have said had it been given the slash.
Errno require_directory(const ResolvedPath& path) {
  if (!path.must_be_dir()) return Errno::success;
  struct stat st;
  if (::fstatat(path.dir, path.entry().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return from_host_errno(errno);
  return S_ISDIR(st.st_mode) ? Errno::success : Errno::notdir;
}

Errno check(int r) {
  return r == 0 ? Errno::success : from_host_errno(errno);
}

}  // namespace

Errno path_open(Env& env, Mem& mem, Fd dirfd, LookupFlags dirflags, Ptr path_ptr, Size path_len,
                OFlags oflags, Rights want_base, Rights want_inheriting, FdFlags fdflags,
                Ptr fd_out) {
  if (oflags & ~(abi::oflag::creat | abi::oflag::directory | abi::oflag::excl | abi::oflag::trunc))
    return Errno::inval;

  constexpr abi::Rights write_rights = abi::right::fd_write | abi::right::fd_datasync |
                                       abi::right::fd_allocate | abi::right::fd_filestat_set_size;
  const bool wants_write = (want_base & write_rights) != 0;
  abi::Rights needed = abi::right::path_open;
  if (oflags & abi::oflag::creat) needed |= abi::right::path_create_file;
  if (oflags & abi::oflag::trunc) needed |= abi::right::path_filestat_set_size;
  auto dir = directory(env, dirfd, needed,
                       wants_write || (oflags & (abi::oflag::creat | abi::oflag::trunc)));
  if (!dir) return dir.error();
  // O_CREAT | O_EXCL never follows a final symlink: Linux fails with EEXIST
  // even when it dangles.
  const bool exclusive = (oflags & abi::oflag::creat) && (oflags & abi::oflag::excl);
  auto path = resolve(env, mem, *dir, path_ptr, path_len,
                      exclusive ? FinalSymlink::follow_if_slash : lookup(dirflags));
  if (!path) return path.error();

  int flags = O_CLOEXEC | O_NOFOLLOW;
  if (path->must_be_dir()) {
    // Linux refuses to create "name/" before it looks at the name.
    if (oflags & abi::oflag::creat) return Errno::isdir;
    flags |= O_DIRECTORY;
  }
  if (oflags & abi::oflag::creat) flags |= O_CREAT;
  if (oflags & abi::oflag::excl) flags |= O_EXCL;
  if (oflags & abi::oflag::trunc) flags |= O_TRUNC;
  if (oflags & abi::oflag::directory) flags |= O_DIRECTORY;
  const bool wants_read = want_base & (abi::right::fd_read | abi::right::fd_readdir);
  if (wants_write)
    flags |= wants_read ? O_RDWR : O_WRONLY;
  else
    flags |= O_RDONLY;
  if (fdflags & abi::fdflag::append) flags |= O_APPEND;
  if (fdflags & abi::fdflag::nonblock) flags |= O_NONBLOCK;
  if (fdflags & abi::fdflag::sync)
    flags |= O_SYNC;
  else if (fdflags & (abi::fdflag::dsync | abi::fdflag::rsync))
    flags |= O_DSYNC;

  // Never blocks, and opens nothing but a regular file or a directory: a
  // FIFO, socket or device in a mount is ENXIO (host_open.h).
  struct stat st;
  auto opened = open_host_file(path->dir, path->entry().c_str(), flags, 0666, &st);
  if (!opened) return from_host_errno(opened.error());
  UniqueFd host = std::move(*opened);

  FdEntry entry;
  entry.filetype = filetype_of(st.st_mode);
  entry.host = std::move(host);
  entry.read_only = (*dir)->read_only;
  const abi::Rights kind =
      entry.filetype == abi::Filetype::directory ? abi::right::directory : abi::right::file;
  entry.rights_base = want_base & (*dir)->rights_inheriting & kind;
  // Nothing beneath a read-only mount can write (the open itself already
  // failed with rofs if it asked to write bytes).
  if (entry.read_only)
    entry.rights_base &= ~(abi::right::file_writes | abi::right::directory_writes);
  entry.rights_inheriting = want_inheriting & (*dir)->rights_inheriting;
  auto placed = env.fds().insert(std::move(entry));
  if (!placed) return placed.error();
  if (Errno e = mem.store<uint32_t>(fd_out, *placed); e != Errno::success) {
    env.fds().close(*placed);
    return e;
  }
  return Errno::success;
}

Errno path_create_directory(Env& env, Mem& mem, Fd dirfd, Ptr path_ptr, Size path_len) {
  auto dir = directory(env, dirfd, abi::right::path_create_directory, true);
  if (!dir) return dir.error();
  auto path = resolve(env, mem, *dir, path_ptr, path_len, FinalSymlink::never);
  if (!path) return path.error();
  return check(::mkdirat(path->dir, path->name.c_str(), 0777));
}

Errno path_filestat_get(Env& env, Mem& mem, Fd dirfd, LookupFlags flags, Ptr path_ptr,
                        Size path_len, Ptr filestat_out) {
  auto dir = directory(env, dirfd, abi::right::path_filestat_get, false);
  if (!dir) return dir.error();
  auto path = resolve(env, mem, *dir, path_ptr, path_len, lookup(flags));
  if (!path) return path.error();
  struct stat st;
  if (::fstatat(path->dir, path->entry().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return from_host_errno(errno);
  if (path->must_be_dir() && !S_ISDIR(st.st_mode)) return Errno::notdir;
  return store_filestat(mem, filestat_out, st);
}

Errno path_filestat_set_times(Env& env, Mem& mem, Fd dirfd, LookupFlags flags, Ptr path_ptr,
                              Size path_len, Timestamp atim, Timestamp mtim, FstFlags fst_flags) {
  auto dir = directory(env, dirfd, abi::right::path_filestat_set_times, true);
  if (!dir) return dir.error();
  auto times = utimens_args(atim, mtim, fst_flags);
  if (!times) return times.error();
  auto path = resolve(env, mem, *dir, path_ptr, path_len, lookup(flags));
  if (!path) return path.error();
  if (Errno e = require_directory(*path); e != Errno::success) return e;
  return check(::utimensat(path->dir, path->entry().c_str(), times->data(), AT_SYMLINK_NOFOLLOW));
}

Errno path_link(Env& env, Mem& mem, Fd old_dirfd, LookupFlags old_flags, Ptr old_path,
                Size old_path_len, Fd new_dirfd, Ptr new_path, Size new_path_len) {
  auto from_dir = directory(env, old_dirfd, abi::right::path_link_source, true);
  if (!from_dir) return from_dir.error();
  auto to_dir = directory(env, new_dirfd, abi::right::path_link_target, true);
  if (!to_dir) return to_dir.error();
  auto from = resolve(env, mem, *from_dir, old_path, old_path_len, lookup(old_flags));
  if (!from) return from.error();
  // "name/" names a directory, and directories cannot be hard-linked.
  if (from->must_be_dir()) {
    Errno e = require_directory(*from);
    return e == Errno::success ? Errno::perm : e;
  }
  auto to = resolve(env, mem, *to_dir, new_path, new_path_len, FinalSymlink::never);
  if (!to) return to.error();
  return check(::linkat(from->dir, from->entry().c_str(), to->dir, to->name.c_str(), 0));
}

Errno path_readlink(Env& env, Mem& mem, Fd dirfd, Ptr path_ptr, Size path_len, Ptr buf_ptr,
                    Size buf_len, Ptr bufused_out) {
  auto dir = directory(env, dirfd, abi::right::path_readlink, false);
  if (!dir) return dir.error();
  // readlink(2) refuses an empty buffer rather than report nothing.
  if (buf_len == 0) return Errno::inval;
  auto path = resolve(env, mem, *dir, path_ptr, path_len, FinalSymlink::follow_if_slash);
  if (!path) return path.error();
  // "name/" was followed by the walk, so what is left is a directory (not
  // a symlink: inval) or not a directory at all (notdir).
  if (path->must_be_dir()) {
    Errno e = require_directory(*path);
    return e == Errno::success ? Errno::inval : e;
  }
  char target[PATH_MAX];
  ssize_t n = ::readlinkat(path->dir, path->entry().c_str(), target, sizeof target);
  if (n < 0) return from_host_errno(errno);
  // A short buffer gets the start of the target, as readlink(2) gives.
  auto buf = mem.bytes(buf_ptr, buf_len);
  if (!buf) return buf.error();
  size_t copied = std::min(buf->size(), static_cast<size_t>(n));
  std::memcpy(buf->data(), target, copied);
  return mem.store<uint32_t>(bufused_out, static_cast<uint32_t>(copied));
}

Errno path_remove_directory(Env& env, Mem& mem, Fd dirfd, Ptr path_ptr, Size path_len) {
  auto dir = directory(env, dirfd, abi::right::path_remove_directory, true);
  if (!dir) return dir.error();
  auto path = resolve(env, mem, *dir, path_ptr, path_len, FinalSymlink::never);
  if (!path) return path.error();
  return check(::unlinkat(path->dir, path->name.c_str(), AT_REMOVEDIR));
}

Errno path_rename(Env& env, Mem& mem, Fd old_dirfd, Ptr old_path, Size old_path_len, Fd new_dirfd,
                  Ptr new_path, Size new_path_len) {
  auto from_dir = directory(env, old_dirfd, abi::right::path_rename_source, true);
  if (!from_dir) return from_dir.error();
  auto to_dir = directory(env, new_dirfd, abi::right::path_rename_target, true);
  if (!to_dir) return to_dir.error();
  auto from = resolve(env, mem, *from_dir, old_path, old_path_len, FinalSymlink::never);
  if (!from) return from.error();
  auto to = resolve(env, mem, *to_dir, new_path, new_path_len, FinalSymlink::never);
  if (!to) return to.error();
  return check(::renameat(from->dir, from->name.c_str(), to->dir, to->name.c_str()));
}

Errno path_symlink(Env& env, Mem& mem, Ptr old_path, Size old_path_len, Fd dirfd, Ptr new_path,
                   Size new_path_len) {
  auto target = mem.string(old_path, old_path_len);
  if (!target) return target.error();
  if (target->find('\0') != std::string_view::npos) return Errno::inval;
  // An absolute target names a place outside the mount's tree to whoever
  // reads the link later on the host (a program reading /outputs after the
  // job): refused. A relative one is stored as written; the walk refuses to
  // follow it out of the mount, whatever it says.
  if (target->starts_with('/')) return Errno::perm;
  auto dir = directory(env, dirfd, abi::right::path_symlink, true);
  if (!dir) return dir.error();
  auto path = resolve(env, mem, *dir, new_path, new_path_len, FinalSymlink::never);
  if (!path) return path.error();
  // "name/" asks for a directory: an existing file there is ENOTDIR, as a
  // lookup of "name/" would say (Linux's symlinkat answers EEXIST without
  // looking). A symlink there is left to the kernel (EEXIST): which kind of
  // entry it leads to is not looked at, since it may lead out of the mount.
  if (path->must_be_dir()) {
    struct stat st;
    if (::fstatat(path->dir, path->entry().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
      return Errno::notdir;
  }
  return check(::symlinkat(std::string(*target).c_str(), path->dir, path->name.c_str()));
}

Errno path_unlink_file(Env& env, Mem& mem, Fd dirfd, Ptr path_ptr, Size path_len) {
  auto dir = directory(env, dirfd, abi::right::path_unlink_file, true);
  if (!dir) return dir.error();
  auto path = resolve(env, mem, *dir, path_ptr, path_len, FinalSymlink::never);
  if (!path) return path.error();
  return check(::unlinkat(path->dir, path->name.c_str(), 0));
}

}  // namespace shoal::wasi::calls
