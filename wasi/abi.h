// Constants and struct layouts of the wasi_snapshot_preview1 ABI, as the
// guest sees them (little-endian, wasm32 offsets).
#pragma once

#include <cstdint>

namespace shoal::wasi::abi {

// The types of the functions' parameters, named as the witx names them.
// Each handler (calls.h) declares its parameters with these, and the wasm
// signature follows from their sizes (functions.cpp): 4 bytes or fewer is
// an i32, 8 bytes an i64.
using Fd = uint32_t;
using Size = uint32_t;
using Ptr = uint32_t;  // an address in the guest's memory (wasm32)
using Filesize = uint64_t;
using Filedelta = int64_t;
using Timestamp = uint64_t;
using Dircookie = uint64_t;
using Exitcode = uint32_t;
using LookupFlags = uint32_t;
using OFlags = uint16_t;
using FdFlags = uint16_t;
using FstFlags = uint16_t;

using Rights = uint64_t;
namespace right {
inline constexpr Rights fd_datasync = 1ull << 0, fd_read = 1ull << 1, fd_seek = 1ull << 2,
                        fd_fdstat_set_flags = 1ull << 3, fd_sync = 1ull << 4, fd_tell = 1ull << 5,
                        fd_write = 1ull << 6, fd_advise = 1ull << 7, fd_allocate = 1ull << 8,
                        path_create_directory = 1ull << 9, path_create_file = 1ull << 10,
                        path_link_source = 1ull << 11, path_link_target = 1ull << 12,
                        path_open = 1ull << 13, fd_readdir = 1ull << 14, path_readlink = 1ull << 15,
                        path_rename_source = 1ull << 16, path_rename_target = 1ull << 17,
                        path_filestat_get = 1ull << 18, path_filestat_set_size = 1ull << 19,
                        path_filestat_set_times = 1ull << 20, fd_filestat_get = 1ull << 21,
                        fd_filestat_set_size = 1ull << 22, fd_filestat_set_times = 1ull << 23,
                        path_symlink = 1ull << 24, path_remove_directory = 1ull << 25,
                        path_unlink_file = 1ull << 26, poll_fd_readwrite = 1ull << 27,
                        sock_shutdown = 1ull << 28, sock_accept = 1ull << 29;
inline constexpr Rights all = (1ull << 30) - 1;
// What a regular file can ever be granted.
inline constexpr Rights file = fd_datasync | fd_read | fd_seek | fd_fdstat_set_flags | fd_sync |
                               fd_tell | fd_write | fd_advise | fd_allocate | fd_filestat_get |
                               fd_filestat_set_size | fd_filestat_set_times | poll_fd_readwrite;
// What a directory can ever be granted.
inline constexpr Rights directory =
    fd_fdstat_set_flags | fd_sync | fd_advise | path_create_directory | path_create_file |
    path_link_source | path_link_target | path_open | fd_readdir | path_readlink |
    path_rename_source | path_rename_target | path_filestat_get | path_filestat_set_size |
    path_filestat_set_times | fd_filestat_get | fd_filestat_set_times | path_symlink |
    path_remove_directory | path_unlink_file;
// The rights a directory loses when its mount is read-only.
inline constexpr Rights directory_writes =
    path_create_directory | path_create_file | path_link_source | path_link_target |
    path_rename_source | path_rename_target | path_filestat_set_size | path_filestat_set_times |
    fd_filestat_set_times | path_symlink | path_remove_directory | path_unlink_file;
inline constexpr Rights file_writes =
    fd_datasync | fd_write | fd_allocate | fd_filestat_set_size | fd_filestat_set_times | fd_sync;
}  // namespace right

enum class Filetype : uint8_t {
  unknown,
  block_device,
  character_device,
  directory,
  regular_file,
  socket_dgram,
  socket_stream,
  symbolic_link,
};

namespace fdflag {
inline constexpr uint16_t append = 1, dsync = 2, nonblock = 4, rsync = 8, sync = 16;
}
namespace oflag {
inline constexpr uint16_t creat = 1, directory = 2, excl = 4, trunc = 8;
}
namespace lookupflag {
inline constexpr uint32_t symlink_follow = 1;
}
namespace fstflag {
inline constexpr uint16_t atim = 1, atim_now = 2, mtim = 4, mtim_now = 8;
}

enum class Whence : uint8_t { set, cur, end };
enum class ClockId : uint32_t { realtime, monotonic, process_cputime_id, thread_cputime_id };

// Struct sizes and field offsets.
namespace fdstat {
inline constexpr uint32_t size = 24, filetype = 0, flags = 2, rights_base = 8,
                          rights_inheriting = 16;
}
namespace prestat {
inline constexpr uint32_t size = 8, tag = 0, name_len = 4;
}
namespace filestat {
inline constexpr uint32_t size = 64, dev = 0, ino = 8, filetype = 16, nlink = 24, fsize = 32,
                          atim = 40, mtim = 48, ctim = 56;
}
namespace dirent {
inline constexpr uint32_t size = 24, next = 0, ino = 8, namlen = 16, type = 20;
}
namespace iovec {
inline constexpr uint32_t size = 8, buf = 0, len = 4;
}
namespace subscription {
inline constexpr uint32_t size = 48, userdata = 0, tag = 8, clock_id = 16, clock_timeout = 24,
                          clock_precision = 32, clock_flags = 40, fd = 16;
inline constexpr uint8_t tag_clock = 0, tag_fd_read = 1, tag_fd_write = 2;
inline constexpr uint16_t clock_abstime = 1;
}  // namespace subscription
namespace event {
inline constexpr uint32_t size = 32, userdata = 0, error = 8, type = 10, nbytes = 16, flags = 24;
inline constexpr uint16_t fd_readwrite_hangup = 1;
}  // namespace event

}  // namespace shoal::wasi::abi
