// The handlers behind the function table (functions.cpp), grouped by
// concern: calls_args.cpp, calls_clock.cpp, calls_fd.cpp, calls_path.cpp,
// calls_poll.cpp, calls_proc.cpp, calls_sock.cpp. Each takes the guest's
// arguments in ABI order.
#pragma once

#include <time.h>

#include <array>

#include "wasi/functions.h"

namespace shoal::wasi::calls {

#define SHOAL_WASI_CALL(name) \
  Errno name(Environment& env, const GuestMemory& mem, const uint64_t* a)

SHOAL_WASI_CALL(args_get);
SHOAL_WASI_CALL(args_sizes_get);
SHOAL_WASI_CALL(environ_get);
SHOAL_WASI_CALL(environ_sizes_get);
SHOAL_WASI_CALL(clock_res_get);
SHOAL_WASI_CALL(clock_time_get);
SHOAL_WASI_CALL(fd_advise);
SHOAL_WASI_CALL(fd_allocate);
SHOAL_WASI_CALL(fd_close);
SHOAL_WASI_CALL(fd_datasync);
SHOAL_WASI_CALL(fd_fdstat_get);
SHOAL_WASI_CALL(fd_fdstat_set_flags);
SHOAL_WASI_CALL(fd_fdstat_set_rights);
SHOAL_WASI_CALL(fd_filestat_get);
SHOAL_WASI_CALL(fd_filestat_set_size);
SHOAL_WASI_CALL(fd_filestat_set_times);
SHOAL_WASI_CALL(fd_pread);
SHOAL_WASI_CALL(fd_prestat_get);
SHOAL_WASI_CALL(fd_prestat_dir_name);
SHOAL_WASI_CALL(fd_pwrite);
SHOAL_WASI_CALL(fd_read);
SHOAL_WASI_CALL(fd_readdir);
SHOAL_WASI_CALL(fd_renumber);
SHOAL_WASI_CALL(fd_seek);
SHOAL_WASI_CALL(fd_sync);
SHOAL_WASI_CALL(fd_tell);
SHOAL_WASI_CALL(fd_write);
SHOAL_WASI_CALL(path_create_directory);
SHOAL_WASI_CALL(path_filestat_get);
SHOAL_WASI_CALL(path_filestat_set_times);
SHOAL_WASI_CALL(path_link);
SHOAL_WASI_CALL(path_open);
SHOAL_WASI_CALL(path_readlink);
SHOAL_WASI_CALL(path_remove_directory);
SHOAL_WASI_CALL(path_rename);
SHOAL_WASI_CALL(path_symlink);
SHOAL_WASI_CALL(path_unlink_file);
SHOAL_WASI_CALL(poll_oneoff);
SHOAL_WASI_CALL(proc_exit);
SHOAL_WASI_CALL(proc_raise);
SHOAL_WASI_CALL(sched_yield);
SHOAL_WASI_CALL(random_get);
SHOAL_WASI_CALL(sock_accept);
SHOAL_WASI_CALL(sock_recv);
SHOAL_WASI_CALL(sock_send);
SHOAL_WASI_CALL(sock_shutdown);

// Shared by several groups: the utimensat/futimens times for a WASI
// (atim, mtim, fst_flags) triple; inval for contradictory flags.
Result<std::array<timespec, 2>> utimens_args(uint64_t atim, uint64_t mtim, uint16_t flags);

// Converts an i32 argument.
inline uint32_t u32(uint64_t v) {
  return static_cast<uint32_t>(v);
}

}  // namespace shoal::wasi::calls
