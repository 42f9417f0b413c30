// Opening a host file that someone else put in a mount, without ever
// blocking on it.
//
// open(2) of a FIFO waits for a writer; of a terminal it may make it the
// controlling one; of a device it runs the driver's open. A mount is a host
// directory the guest (or whoever filled it) chose the contents of, so every
// open of a file found there goes through open_host_file: the guest's
// path_open, a file mount copied into its staged directory, a job's stdin.
// (The path walk opens intermediate directories with O_PATH, and preopens
// use O_DIRECTORY: neither can block.)
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <expected>

#include "wasi/unique_fd.h"

namespace shoal::wasi {

// Opens `name` beneath the directory fd `dir` (AT_FDCWD: relative to the
// working directory) with openat(2) `flags` and `mode`, adding O_NONBLOCK
// and O_NOCTTY so that the open itself returns at once; O_NONBLOCK is
// cleared again on the new fd unless `flags` asked for it.
//
// Only a regular file or a directory is opened. Anything else (a FIFO, a
// socket, a character or block device) fails with ENXIO, the errno Linux
// itself gives for opening a socket or a device with no driver behind it:
// looked at with fstatat before the open (so that a device's driver never
// sees an open), and again with fstat after it (something swapped in
// meanwhile is closed unread). The caller's flags decide whether a final
// symlink is followed (O_NOFOLLOW) and the fstatat does the same.
//
// `st`, when given, receives the new fd's fstat. Errors are host errno values (ENXIO above, or
// whatever openat failed with), for the caller to map or describe. Thread-safe.
std::expected<UniqueFd, int> open_host_file(int dir, const char* name, int flags, mode_t mode = 0,
                                            struct stat* st = nullptr);

}  // namespace shoal::wasi
