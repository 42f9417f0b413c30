// Calls on an open descriptor: reading, writing, seeking, its flags, rights
// and status, directory listing, and the preopen names.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "wasi/calls.h"
#include "wasi/file_stat.h"

namespace shoal::wasi::calls {
namespace {

boost::container::small_vector<struct iovec, 4> host_iovecs(const GuestMemory::IoVecs& bufs) {
  boost::container::small_vector<struct iovec, 4> out(bufs.size());
  for (size_t i = 0; i < bufs.size(); ++i) out[i] = {bufs[i].data(), bufs[i].size()};
  return out;
}

// The transfers themselves. One buffer, what libc passes nearly always, goes
// through read/write/pread/pwrite, with no iovec array made: the vectored
// calls make the kernel copy the array in each time. `offset` < 0: the file
// position.
template <auto one, auto one_at, auto many, auto many_at>
ssize_t transfer(int fd, const GuestMemory::IoVecs& bufs, off_t offset) {
  if (bufs.size() == 1)
    return offset < 0 ? one(fd, bufs[0].data(), bufs[0].size())
                      : one_at(fd, bufs[0].data(), bufs[0].size(), offset);
  auto iov = host_iovecs(bufs);
  int count = static_cast<int>(iov.size());
  return offset < 0 ? many(fd, iov.data(), count) : many_at(fd, iov.data(), count, offset);
}

ssize_t host_read(int fd, const GuestMemory::IoVecs& bufs, off_t offset = -1) {
  return transfer<::read, ::pread, ::readv, ::preadv>(fd, bufs, offset);
}

ssize_t host_write(int fd, const GuestMemory::IoVecs& bufs, off_t offset = -1) {
  return transfer<::write, ::pwrite, ::writev, ::pwritev>(fd, bufs, offset);
}

// The number of bytes a call moved, stored for the guest.
Errno done(const GuestMemory& mem, uint32_t ptr, ssize_t n) {
  if (n < 0) return from_host_errno(errno);
  return mem.store<uint32_t>(ptr, static_cast<uint32_t>(n));
}

// Entries with no host descriptor (the output streams, an empty stdin)
// cannot seek, sync or be truncated.
Result<FdEntry*> host_entry(Env& env, Fd fd, Rights needed) {
  auto e = env.fds().get(fd, needed);
  if (!e) return e;
  if (!(*e)->host.valid()) return std::unexpected(Errno::spipe);
  return e;
}

// The entry behind fd for reading or writing bytes. A directory can never
// hold fd_read or fd_write, so it gets Linux's answer for a directory
// (`for_directory`: EISDIR for read(2), EBADF for write(2)) before the rights
// check would call it notcapable.
Result<FdEntry*> byte_stream(Env& env, Fd fd, Rights needed, Errno for_directory) {
  auto e = env.fds().get(fd);
  if (!e) return e;
  if ((*e)->filetype == abi::Filetype::directory) return std::unexpected(for_directory);
  if (((*e)->rights_base & needed) != needed) return std::unexpected(Errno::notcapable);
  return e;
}

uint16_t fdflags_of(int host_flags) {
  uint16_t f = 0;
  if (host_flags & O_APPEND) f |= abi::fdflag::append;
  if (host_flags & O_NONBLOCK) f |= abi::fdflag::nonblock;
  if ((host_flags & O_SYNC) == O_SYNC)
    f |= abi::fdflag::sync | abi::fdflag::rsync;
  else if (host_flags & O_DSYNC)
    f |= abi::fdflag::dsync;
  return f;
}

// UTIME_* timespecs for a WASI (time, flags) pair.
Result<timespec> time_arg(Timestamp t, FstFlags flags, FstFlags set, FstFlags now) {
  if ((flags & set) && (flags & now)) return std::unexpected(Errno::inval);
  if (flags & now) return timespec{0, UTIME_NOW};
  if (flags & set)
    return timespec{static_cast<time_t>(t / 1'000'000'000ull),
                    static_cast<long>(t % 1'000'000'000ull)};
  return timespec{0, UTIME_OMIT};
}

}  // namespace

Result<std::array<timespec, 2>> utimens_args(Timestamp atim, Timestamp mtim, FstFlags flags) {
  if (flags &
      ~(abi::fstflag::atim | abi::fstflag::atim_now | abi::fstflag::mtim | abi::fstflag::mtim_now))
    return std::unexpected(Errno::inval);
  auto at = time_arg(atim, flags, abi::fstflag::atim, abi::fstflag::atim_now);
  if (!at) return std::unexpected(at.error());
  auto mt = time_arg(mtim, flags, abi::fstflag::mtim, abi::fstflag::mtim_now);
  if (!mt) return std::unexpected(mt.error());
  return std::array<timespec, 2>{*at, *mt};
}

Errno fd_read(Env& env, Mem& mem, Fd fd, Ptr iovs, Size iovs_len, Ptr nread_out) {
  auto e = byte_stream(env, fd, abi::right::fd_read, Errno::isdir);
  if (!e) return e.error();
  auto bufs = mem.iovecs(iovs, iovs_len);
  if (!bufs) return bufs.error();
  if (!(*e)->host.valid()) return mem.store<uint32_t>(nread_out, 0);  // empty stdin
  ssize_t n;
  do n = host_read((*e)->host.get(), *bufs);
  while (n < 0 && errno == EINTR);
  return done(mem, nread_out, n);
}

Errno fd_write(Env& env, Mem& mem, Fd fd, Ptr iovs, Size iovs_len, Ptr nwritten_out) {
  auto e = byte_stream(env, fd, abi::right::fd_write, Errno::badf);
  if (!e) return e.error();
  auto bufs = mem.iovecs(iovs, iovs_len);
  if (!bufs) return bufs.error();
  if ((*e)->sink) {
    uint64_t total = 0;
    for (auto& b : *bufs) {
      if (Errno err = (*e)->sink->write(b); err != Errno::success) return err;
      total += b.size();
    }
    return mem.store<uint32_t>(nwritten_out, static_cast<uint32_t>(total));
  }
  ssize_t n;
  do n = host_write((*e)->host.get(), *bufs);
  while (n < 0 && errno == EINTR);
  return done(mem, nwritten_out, n);
}

Errno fd_pread(Env& env, Mem& mem, Fd fd, Ptr iovs, Size iovs_len, Filesize offset, Ptr nread_out) {
  auto e = byte_stream(env, fd, abi::right::fd_read | abi::right::fd_seek, Errno::isdir);
  if (e && !(*e)->host.valid()) return Errno::spipe;
  if (!e) return e.error();
  auto bufs = mem.iovecs(iovs, iovs_len);
  if (!bufs) return bufs.error();
  if (offset > INT64_MAX) return Errno::inval;
  ssize_t n = host_read((*e)->host.get(), *bufs, static_cast<off_t>(offset));
  return done(mem, nread_out, n);
}

Errno fd_pwrite(Env& env, Mem& mem, Fd fd, Ptr iovs, Size iovs_len, Filesize offset,
                Ptr nwritten_out) {
  auto e = byte_stream(env, fd, abi::right::fd_write | abi::right::fd_seek, Errno::badf);
  if (e && !(*e)->host.valid()) return Errno::spipe;
  if (!e) return e.error();
  auto bufs = mem.iovecs(iovs, iovs_len);
  if (!bufs) return bufs.error();
  if (offset > INT64_MAX) return Errno::inval;
  ssize_t n = host_write((*e)->host.get(), *bufs, static_cast<off_t>(offset));
  return done(mem, nwritten_out, n);
}

Errno fd_seek(Env& env, Mem& mem, Fd fd, Filedelta offset, uint32_t whence_arg, Ptr newoffset_out) {
  auto whence = static_cast<abi::Whence>(whence_arg);
  int host_whence;
  switch (whence) {
    case abi::Whence::set:
      host_whence = SEEK_SET;
      break;
    case abi::Whence::cur:
      host_whence = SEEK_CUR;
      break;
    case abi::Whence::end:
      host_whence = SEEK_END;
      break;
    default:
      return Errno::inval;
  }
  // A zero move from the current position only tells, so fd_tell suffices.
  abi::Rights needed =
      (offset == 0 && whence == abi::Whence::cur) ? abi::right::fd_tell : abi::right::fd_seek;
  auto e = env.fds().get(fd);
  if (!e) return e.error();
  if (!(*e)->host.valid() || (*e)->filetype == abi::Filetype::character_device) return Errno::spipe;
  if (((*e)->rights_base & needed) != needed) return Errno::notcapable;
  off_t pos = ::lseek((*e)->host.get(), static_cast<off_t>(offset), host_whence);
  if (pos < 0) return from_host_errno(errno);
  return mem.store<uint64_t>(newoffset_out, static_cast<uint64_t>(pos));
}

Errno fd_tell(Env& env, Mem& mem, Fd fd, Ptr offset_out) {
  auto e = env.fds().get(fd);
  if (!e) return e.error();
  if (!(*e)->host.valid() || (*e)->filetype == abi::Filetype::character_device) return Errno::spipe;
  if (!((*e)->rights_base & abi::right::fd_tell)) return Errno::notcapable;
  off_t pos = ::lseek((*e)->host.get(), 0, SEEK_CUR);
  if (pos < 0) return from_host_errno(errno);
  return mem.store<uint64_t>(offset_out, static_cast<uint64_t>(pos));
}

Errno fd_close(Env& env, Mem&, Fd fd) {
  return env.fds().close(fd);
}

Errno fd_renumber(Env& env, Mem&, Fd fd, Fd to) {
  return env.fds().renumber(fd, to);
}

Errno fd_sync(Env& env, Mem&, Fd fd) {
  auto e = host_entry(env, fd, abi::right::fd_sync);
  if (!e) return e.error() == Errno::spipe ? Errno::inval : e.error();
  return ::fsync((*e)->host.get()) == 0 ? Errno::success : from_host_errno(errno);
}

Errno fd_datasync(Env& env, Mem&, Fd fd) {
  auto e = host_entry(env, fd, abi::right::fd_datasync);
  if (!e) return e.error() == Errno::spipe ? Errno::inval : e.error();
  return ::fdatasync((*e)->host.get()) == 0 ? Errno::success : from_host_errno(errno);
}

Errno fd_advise(Env& env, Mem&, Fd fd, Filesize offset, Filesize len, uint32_t advice) {
  static constexpr int kAdvice[] = {POSIX_FADV_NORMAL,   POSIX_FADV_SEQUENTIAL, POSIX_FADV_RANDOM,
                                    POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED,   POSIX_FADV_NOREUSE};
  auto e = host_entry(env, fd, abi::right::fd_advise);
  if (!e) return e.error();
  if (advice >= std::size(kAdvice)) return Errno::inval;
  if (offset > INT64_MAX || len > INT64_MAX) return Errno::inval;
  int r = ::posix_fadvise((*e)->host.get(), static_cast<off_t>(offset), static_cast<off_t>(len),
                          kAdvice[advice]);
  return from_host_errno(r);
}

Errno fd_allocate(Env& env, Mem&, Fd fd, Filesize offset, Filesize len) {
  auto e = host_entry(env, fd, abi::right::fd_allocate);
  if (!e) return e.error();
  if (offset > INT64_MAX || len > INT64_MAX) return Errno::inval;
  int r = ::posix_fallocate((*e)->host.get(), static_cast<off_t>(offset), static_cast<off_t>(len));
  return from_host_errno(r);
}

Errno fd_fdstat_get(Env& env, Mem& mem, Fd fd, Ptr stat_out) {
  auto e = env.fds().get(fd);
  if (!e) return e.error();
  uint16_t flags = (*e)->fdflags;
  if ((*e)->host.valid()) {
    int host_flags = ::fcntl((*e)->host.get(), F_GETFL);
    if (host_flags >= 0) flags = fdflags_of(host_flags);
  }
  auto b = mem.bytes(stat_out, abi::fdstat::size);
  if (!b) return b.error();
  std::memset(b->data(), 0, b->size());
  (*b)[abi::fdstat::filetype] = static_cast<uint8_t>((*e)->filetype);
  std::memcpy(b->data() + abi::fdstat::flags, &flags, 2);
  std::memcpy(b->data() + abi::fdstat::rights_base, &(*e)->rights_base, 8);
  std::memcpy(b->data() + abi::fdstat::rights_inheriting, &(*e)->rights_inheriting, 8);
  return Errno::success;
}

Errno fd_fdstat_set_flags(Env& env, Mem&, Fd fd, FdFlags wanted) {
  auto e = env.fds().get(fd, abi::right::fd_fdstat_set_flags);
  if (!e) return e.error();
  if (wanted & ~(abi::fdflag::append | abi::fdflag::dsync | abi::fdflag::nonblock |
                 abi::fdflag::rsync | abi::fdflag::sync))
    return Errno::inval;
  if (!(*e)->host.valid()) {
    (*e)->fdflags = wanted;
    return Errno::success;
  }
  // Like Linux's F_SETFL, only append and nonblock can change after open.
  int host_flags = ::fcntl((*e)->host.get(), F_GETFL);
  if (host_flags < 0) return from_host_errno(errno);
  host_flags &= ~(O_APPEND | O_NONBLOCK);
  if (wanted & abi::fdflag::append) host_flags |= O_APPEND;
  if (wanted & abi::fdflag::nonblock) host_flags |= O_NONBLOCK;
  if (::fcntl((*e)->host.get(), F_SETFL, host_flags) != 0) return from_host_errno(errno);
  return Errno::success;
}

Errno fd_fdstat_set_rights(Env& env, Mem&, Fd fd, Rights base, Rights inheriting) {
  auto e = env.fds().get(fd);
  if (!e) return e.error();
  // Rights can only be dropped, never gained.
  if ((base & ~(*e)->rights_base) || (inheriting & ~(*e)->rights_inheriting))
    return Errno::notcapable;
  (*e)->rights_base = base;
  (*e)->rights_inheriting = inheriting;
  return Errno::success;
}

Errno fd_filestat_get(Env& env, Mem& mem, Fd fd, Ptr filestat_out) {
  auto e = env.fds().get(fd, abi::right::fd_filestat_get);
  if (!e) return e.error();
  struct stat st {};
  if ((*e)->host.valid()) {
    if (::fstat((*e)->host.get(), &st) != 0) return from_host_errno(errno);
  } else {
    st.st_mode = S_IFCHR;
  }
  return store_filestat(mem, filestat_out, st);
}

Errno fd_filestat_set_size(Env& env, Mem&, Fd fd, Filesize size) {
  auto e = host_entry(env, fd, abi::right::fd_filestat_set_size);
  if (!e) return e.error() == Errno::spipe ? Errno::inval : e.error();
  if (size > INT64_MAX) return Errno::inval;
  return ::ftruncate((*e)->host.get(), static_cast<off_t>(size)) == 0 ? Errno::success
                                                                      : from_host_errno(errno);
}

Errno fd_filestat_set_times(Env& env, Mem&, Fd fd, Timestamp atim, Timestamp mtim,
                            FstFlags fst_flags) {
  auto e = host_entry(env, fd, abi::right::fd_filestat_set_times);
  if (!e) return e.error() == Errno::spipe ? Errno::inval : e.error();
  auto times = utimens_args(atim, mtim, fst_flags);
  if (!times) return times.error();
  return ::futimens((*e)->host.get(), times->data()) == 0 ? Errno::success : from_host_errno(errno);
}

Errno fd_prestat_get(Env& env, Mem& mem, Fd fd, Ptr prestat_out) {
  auto e = env.fds().get(fd);
  if (!e) return e.error();
  if (!(*e)->preopen_name) return Errno::badf;
  auto b = mem.bytes(prestat_out, abi::prestat::size);
  if (!b) return b.error();
  std::memset(b->data(), 0, b->size());
  auto len = static_cast<uint32_t>((*e)->preopen_name->size());
  std::memcpy(b->data() + abi::prestat::name_len, &len, 4);
  return Errno::success;
}

Errno fd_prestat_dir_name(Env& env, Mem& mem, Fd fd, Ptr path, Size path_len) {
  auto e = env.fds().get(fd);
  if (!e) return e.error();
  if (!(*e)->preopen_name) return Errno::badf;
  const std::string& name = *(*e)->preopen_name;
  if (path_len < name.size()) return Errno::nametoolong;
  return mem.copy_in(path, {reinterpret_cast<const uint8_t*>(name.data()), name.size()});
}

Errno fd_readdir(Env& env, Mem& mem, Fd fd, Ptr buf_ptr, Size buf_len, Dircookie cookie,
                 Ptr bufused_out) {
  // The type first: only a directory can hold fd_readdir, and Linux's
  // getdents answers ENOTDIR for anything else.
  auto e = env.fds().get(fd);
  if (!e) return e.error();
  if ((*e)->filetype != abi::Filetype::directory) return Errno::notdir;
  if (!((*e)->rights_base & abi::right::fd_readdir)) return Errno::notcapable;
  auto buf = mem.bytes(buf_ptr, buf_len);
  if (!buf) return buf.error();

  // A fresh handle each call, so the position of the guest's fd is ours to
  // define: the cookie is the index of the next entry, "." and ".." included.
  int listing = ::openat((*e)->host.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (listing < 0) return from_host_errno(errno);
  DIR* dir = ::fdopendir(listing);
  if (!dir) {
    ::close(listing);
    return from_host_errno(errno);
  }
  size_t used = 0;
  uint64_t index = 0;
  errno = 0;
  while (used < buf->size()) {
    struct dirent* d = ::readdir(dir);
    if (!d) break;
    if (index++ < cookie) continue;
    abi::Filetype type = abi::Filetype::unknown;
    switch (d->d_type) {
      case DT_REG:
        type = abi::Filetype::regular_file;
        break;
      case DT_DIR:
        type = abi::Filetype::directory;
        break;
      case DT_LNK:
        type = abi::Filetype::symbolic_link;
        break;
      case DT_CHR:
        type = abi::Filetype::character_device;
        break;
      case DT_BLK:
        type = abi::Filetype::block_device;
        break;
      case DT_SOCK:
        type = abi::Filetype::socket_stream;
        break;
      default: {
        struct stat st;
        if (::fstatat(listing, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
          type = filetype_of(st.st_mode);
      }
    }
    auto namlen = static_cast<uint32_t>(std::strlen(d->d_name));
    uint8_t header[abi::dirent::size] = {};
    uint64_t next = index;
    uint64_t ino = d->d_ino;
    std::memcpy(header + abi::dirent::next, &next, 8);
    std::memcpy(header + abi::dirent::ino, &ino, 8);
    std::memcpy(header + abi::dirent::namlen, &namlen, 4);
    header[abi::dirent::type] = static_cast<uint8_t>(type);
    // The last entry may be cut short: a full buffer tells the guest to call
    // again from that entry's cookie.
    size_t n = std::min(sizeof header, buf->size() - used);
    std::memcpy(buf->data() + used, header, n);
    used += n;
    n = std::min<size_t>(namlen, buf->size() - used);
    std::memcpy(buf->data() + used, d->d_name, n);
    used += n;
  }
  ::closedir(dir);
  return mem.store<uint32_t>(bufused_out, static_cast<uint32_t>(used));
}

}  // namespace shoal::wasi::calls
