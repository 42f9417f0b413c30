// The handlers behind the function table (functions.cpp), grouped by
// concern: calls_args.cpp, calls_clock.cpp, calls_fd.cpp, calls_path.cpp,
// calls_poll.cpp, calls_proc.cpp, calls_sock.cpp.
//
// Each takes the environment, the guest's memory, and then the guest's
// arguments in ABI order, typed and named as the witx declares them (a
// string or an array is its pointer and its length; a result other than
// the errno is a pointer to store it at). The function table derives each
// function's wasm signature and the decoding of its arguments from these
// declarations, so the two cannot disagree. An enum the witx declares
// narrower than an i32 (whence, advice, signal, sdflags) is taken as the
// whole i32: a value past the enum's range is inval, not wrapped into it.
// Every handler returns the errno the guest gets, except proc_exit, which
// returns nothing (the engine then unwinds the guest).
#pragma once

#include <time.h>

#include <array>

#include "wasi/abi.h"
#include "wasi/environment.h"
#include "wasi/errno.h"
#include "wasi/guest_memory.h"

namespace shoal::wasi::calls {

using abi::Dircookie, abi::Exitcode, abi::Fd, abi::FdFlags, abi::Filedelta, abi::Filesize,
    abi::FstFlags, abi::LookupFlags, abi::OFlags, abi::Ptr, abi::Rights, abi::Size, abi::Timestamp;
using Env = Environment;
using Mem = const GuestMemory;

// calls_args.cpp
Errno args_get(Env& env, Mem& mem, Ptr argv, Ptr argv_buf);
Errno args_sizes_get(Env& env, Mem& mem, Ptr argc_out, Ptr argv_buf_size_out);
Errno environ_get(Env& env, Mem& mem, Ptr environ, Ptr environ_buf);
Errno environ_sizes_get(Env& env, Mem& mem, Ptr count_out, Ptr buf_size_out);

// calls_clock.cpp
Errno clock_res_get(Env& env, Mem& mem, uint32_t clock_id, Ptr resolution_out);
Errno clock_time_get(Env& env, Mem& mem, uint32_t clock_id, Timestamp precision, Ptr time_out);
Errno random_get(Env& env, Mem& mem, Ptr buf, Size buf_len);
Errno sched_yield(Env& env, Mem& mem);

// calls_fd.cpp
Errno fd_advise(Env& env, Mem& mem, Fd fd, Filesize offset, Filesize len, uint32_t advice);
Errno fd_allocate(Env& env, Mem& mem, Fd fd, Filesize offset, Filesize len);
Errno fd_close(Env& env, Mem& mem, Fd fd);
Errno fd_datasync(Env& env, Mem& mem, Fd fd);
Errno fd_fdstat_get(Env& env, Mem& mem, Fd fd, Ptr stat_out);
Errno fd_fdstat_set_flags(Env& env, Mem& mem, Fd fd, FdFlags flags);
Errno fd_fdstat_set_rights(Env& env, Mem& mem, Fd fd, Rights base, Rights inheriting);
Errno fd_filestat_get(Env& env, Mem& mem, Fd fd, Ptr filestat_out);
Errno fd_filestat_set_size(Env& env, Mem& mem, Fd fd, Filesize size);
Errno fd_filestat_set_times(Env& env, Mem& mem, Fd fd, Timestamp atim, Timestamp mtim,
                            FstFlags fst_flags);
Errno fd_pread(Env& env, Mem& mem, Fd fd, Ptr iovs, Size iovs_len, Filesize offset, Ptr nread_out);
Errno fd_prestat_get(Env& env, Mem& mem, Fd fd, Ptr prestat_out);
Errno fd_prestat_dir_name(Env& env, Mem& mem, Fd fd, Ptr path, Size path_len);
Errno fd_pwrite(Env& env, Mem& mem, Fd fd, Ptr iovs, Size iovs_len, Filesize offset,
                Ptr nwritten_out);
Errno fd_read(Env& env, Mem& mem, Fd fd, Ptr iovs, Size iovs_len, Ptr nread_out);
Errno fd_readdir(Env& env, Mem& mem, Fd fd, Ptr buf, Size buf_len, Dircookie cookie,
                 Ptr bufused_out);
Errno fd_renumber(Env& env, Mem& mem, Fd fd, Fd to);
Errno fd_seek(Env& env, Mem& mem, Fd fd, Filedelta offset, uint32_t whence, Ptr newoffset_out);
Errno fd_sync(Env& env, Mem& mem, Fd fd);
Errno fd_tell(Env& env, Mem& mem, Fd fd, Ptr offset_out);
Errno fd_write(Env& env, Mem& mem, Fd fd, Ptr iovs, Size iovs_len, Ptr nwritten_out);

// calls_path.cpp
Errno path_create_directory(Env& env, Mem& mem, Fd dirfd, Ptr path, Size path_len);
Errno path_filestat_get(Env& env, Mem& mem, Fd dirfd, LookupFlags flags, Ptr path, Size path_len,
                        Ptr filestat_out);
Errno path_filestat_set_times(Env& env, Mem& mem, Fd dirfd, LookupFlags flags, Ptr path,
                              Size path_len, Timestamp atim, Timestamp mtim, FstFlags fst_flags);
Errno path_link(Env& env, Mem& mem, Fd old_dirfd, LookupFlags old_flags, Ptr old_path,
                Size old_path_len, Fd new_dirfd, Ptr new_path, Size new_path_len);
Errno path_open(Env& env, Mem& mem, Fd dirfd, LookupFlags dirflags, Ptr path, Size path_len,
                OFlags oflags, Rights base, Rights inheriting, FdFlags fdflags, Ptr fd_out);
Errno path_readlink(Env& env, Mem& mem, Fd dirfd, Ptr path, Size path_len, Ptr buf, Size buf_len,
                    Ptr bufused_out);
Errno path_remove_directory(Env& env, Mem& mem, Fd dirfd, Ptr path, Size path_len);
Errno path_rename(Env& env, Mem& mem, Fd old_dirfd, Ptr old_path, Size old_path_len, Fd new_dirfd,
                  Ptr new_path, Size new_path_len);
Errno path_symlink(Env& env, Mem& mem, Ptr old_path, Size old_path_len, Fd dirfd, Ptr new_path,
                   Size new_path_len);
Errno path_unlink_file(Env& env, Mem& mem, Fd dirfd, Ptr path, Size path_len);

// calls_poll.cpp
Errno poll_oneoff(Env& env, Mem& mem, Ptr in, Ptr out, Size nsubscriptions, Ptr nevents_out);

// calls_proc.cpp
void proc_exit(Env& env, Mem& mem, Exitcode code);
Errno proc_raise(Env& env, Mem& mem, uint32_t signal);

// calls_sock.cpp
Errno sock_accept(Env& env, Mem& mem, Fd fd, FdFlags flags, Ptr fd_out);
Errno sock_recv(Env& env, Mem& mem, Fd fd, Ptr ri_data, Size ri_data_len, uint16_t ri_flags,
                Ptr ro_datalen_out, Ptr ro_flags_out);
Errno sock_send(Env& env, Mem& mem, Fd fd, Ptr si_data, Size si_data_len, uint16_t si_flags,
                Ptr so_datalen_out);
Errno sock_shutdown(Env& env, Mem& mem, Fd fd, uint32_t how);

// Shared by several groups: the utimensat/futimens times for a WASI
// (atim, mtim, fst_flags) triple; inval for contradictory flags.
Result<std::array<timespec, 2>> utimens_args(Timestamp atim, Timestamp mtim, FstFlags flags);

}  // namespace shoal::wasi::calls
