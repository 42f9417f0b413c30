// Calls on descriptors: rights (only ever dropped, each call needing its
// own), fd_renumber, sockets, seeking on streams, preopen names, and bad
// guest pointers. Uses the directory mounted read-write at /sandbox (empty
// at start). Prints one "<check> <observed>" line per check.
#include "check.h"

static __wasi_fd_t sb;

static __wasi_rights_t rights_of(__wasi_fd_t fd) {
  __wasi_fdstat_t fs;
  must("fdstat", __wasi_fd_fdstat_get(fd, &fs));
  return fs.fs_rights_base;
}

static const char* has(__wasi_rights_t rights, __wasi_rights_t r) {
  return (rights & r) == r ? "yes" : "no";
}

static void rights_checks(void) {
  put_file(sb, "data", "abc");
  __wasi_fd_t fd;
  must("open data",
       open_path(sb, "data", 0, 0,
                 __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_FILESTAT_GET, 0,
                 &fd));
  uint8_t buf[8];
  __wasi_iovec_t iov = {buf, sizeof buf};
  __wasi_ciovec_t ciov = {(const uint8_t*)"x", 1};
  __wasi_size_t n;
  report_errno("write_without_fd_write", __wasi_fd_write(fd, &ciov, 1, &n));
  report_errno("set_size_without_its_right", __wasi_fd_filestat_set_size(fd, 0));
  report_errno("set_times_without_its_right",
               __wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
  report_errno("tell_without_fd_tell", __wasi_fd_tell(fd, &(__wasi_filesize_t){0}));
  report_errno("gaining_a_right",
               __wasi_fd_fdstat_set_rights(fd, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE, 0));
  report_errno("dropping_fd_read", __wasi_fd_fdstat_set_rights(fd, __WASI_RIGHTS_FD_SEEK, 0));
  report("rights_after_drop", "read=%s seek=%s", has(rights_of(fd), __WASI_RIGHTS_FD_READ),
         has(rights_of(fd), __WASI_RIGHTS_FD_SEEK));
  report_errno("read_without_fd_read", __wasi_fd_read(fd, &iov, 1, &n));
  report_errno("pread_without_fd_read", __wasi_fd_pread(fd, &iov, 1, 0, &n));
  report_errno("regaining_a_dropped_right",
               __wasi_fd_fdstat_set_rights(fd, __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_READ, 0));
  report_errno("fdstat_needs_no_right", __wasi_fd_fdstat_get(fd, &(__wasi_fdstat_t){0}));
  (void)__wasi_fd_close(fd);

  // A directory whose rights were dropped hands out no more than it holds.
  __wasi_fd_t dir;
  must("mkdir sub", __wasi_path_create_directory(sb, "sub"));
  put_file(sb, "sub/f", "12345");
  must("open sub",
       __wasi_path_open(sb, 0, "sub", __WASI_OFLAGS_DIRECTORY,
                        __WASI_RIGHTS_PATH_OPEN | __WASI_RIGHTS_FD_READDIR, ALL_RIGHTS, 0, &dir));
  must("sub rights",
       __wasi_fd_fdstat_set_rights(dir, __WASI_RIGHTS_PATH_OPEN, __WASI_RIGHTS_FD_READ));
  __wasi_errno_t e =
      open_path(dir, "f", 0, 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK, 0, &fd);
  __wasi_rights_t got = rights_of(fd);
  report("open_narrowed_by_inheriting", "%s read=%s seek=%s", errname(e),
         has(got, __WASI_RIGHTS_FD_READ), has(got, __WASI_RIGHTS_FD_SEEK));
  (void)__wasi_fd_close(fd);
  report_errno("create_without_path_create_file",
               open_path(dir, "new", 0, __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_READ, 0, &fd));
  report_errno("truncate_without_path_filestat_set_size",
               open_path(dir, "f", 0, __WASI_OFLAGS_TRUNC, __WASI_RIGHTS_FD_READ, 0, &fd));
  report_errno("mkdir_without_its_right", __wasi_path_create_directory(dir, "d"));
  report_errno("unlink_without_its_right", __wasi_path_unlink_file(dir, "f"));
  uint8_t dbuf[64];
  __wasi_size_t used;
  report_errno("readdir_without_fd_readdir", __wasi_fd_readdir(dir, dbuf, sizeof dbuf, 0, &used));
  (void)__wasi_fd_close(dir);
  __wasi_filestat_t st;
  must("stat sub/f", __wasi_path_filestat_get(sb, 0, "sub/f", &st));
  report("refused_truncate_left_size", "%llu", (unsigned long long)st.size);

  // With the right, O_TRUNC truncates.
  e = open_path(sb, "sub/f", 0, __WASI_OFLAGS_TRUNC, __WASI_RIGHTS_FD_WRITE, 0, &fd);
  must("stat sub/f", __wasi_path_filestat_get(sb, 0, "sub/f", &st));
  report("truncate_with_its_right", "%s %llu", errname(e), (unsigned long long)st.size);
  (void)__wasi_fd_close(fd);
}

static void renumber_checks(void) {
  put_file(sb, "A", "contents of A");
  put_file(sb, "B", "contents of B");
  __wasi_fd_t a, b;
  must("open A", open_path(sb, "A", 0, 0, __WASI_RIGHTS_FD_READ, 0, &a));
  must("open B", open_path(sb, "B", 0, 0, __WASI_RIGHTS_FD_READ, 0, &b));
  report_errno("renumber", __wasi_fd_renumber(a, b));
  char buf[32];
  __wasi_iovec_t iov = {(uint8_t*)buf, sizeof buf};
  __wasi_size_t n = 0;
  __wasi_errno_t e = __wasi_fd_read(b, &iov, 1, &n);
  report("renumbered_fd_reads_source", "%s %.*s", errname(e), (int)n, buf);
  report_errno("renumber_source_is_closed", __wasi_fd_close(a));
  report_errno("renumber_to_a_closed_fd", __wasi_fd_renumber(b, 200));
  report_errno("renumber_from_a_closed_fd", __wasi_fd_renumber(200, b));
  report_errno("renumber_onto_itself", __wasi_fd_renumber(b, b));
  report_errno("close", __wasi_fd_close(b));
  report_errno("close_twice", __wasi_fd_close(b));
}

static void socket_checks(void) {
  __wasi_fd_t fd;
  must("open A", open_path(sb, "A", 0, 0, __WASI_RIGHTS_FD_READ, 0, &fd));
  uint8_t buf[4];
  __wasi_iovec_t iov = {buf, sizeof buf};
  __wasi_ciovec_t ciov = {buf, sizeof buf};
  __wasi_size_t n;
  __wasi_roflags_t ro;
  report_errno("sock_recv_closed_fd", __wasi_sock_recv(77, &iov, 1, 0, &n, &ro));
  report_errno("sock_recv_file", __wasi_sock_recv(fd, &iov, 1, 0, &n, &ro));
  report_errno("sock_send_file", __wasi_sock_send(fd, &ciov, 1, 0, &n));
  report_errno("sock_send_closed_fd", __wasi_sock_send(77, &ciov, 1, 0, &n));
  report_errno("sock_shutdown_stdout", __wasi_sock_shutdown(1, __WASI_SDFLAGS_WR));
  report_errno("sock_shutdown_closed_fd", __wasi_sock_shutdown(77, __WASI_SDFLAGS_WR));
  __wasi_fd_t accepted;
  report_errno("sock_accept_preopen", (__wasi_errno_t)raw_sock_accept(sb, 0, (int32_t)&accepted));
  report_errno("sock_accept_closed_fd", (__wasi_errno_t)raw_sock_accept(77, 0, (int32_t)&accepted));
  (void)__wasi_fd_close(fd);
}

static void stream_checks(void) {
  __wasi_filesize_t pos;
  report_errno("seek_stdout", __wasi_fd_seek(1, 0, __WASI_WHENCE_SET, &pos));
  report_errno("tell_stderr", __wasi_fd_tell(2, &pos));
  __wasi_fdstat_t fs;
  must("fdstat stdout", __wasi_fd_fdstat_get(1, &fs));
  report("stdout_filetype", "%s", filetype_name(fs.fs_filetype));
  __wasi_fd_t fd;
  must("open A", open_path(sb, "A", 0, 0, ALL_RIGHTS, 0, &fd));
  report_errno("seek_bad_whence", __wasi_fd_seek(fd, 0, 7, &pos));
  __wasi_errno_t e = __wasi_fd_seek(fd, -3, __WASI_WHENCE_END, &pos);
  report("seek_from_end", "%s %llu", errname(e), (unsigned long long)pos);
  report_errno("sync_file", __wasi_fd_sync(fd));
  report_errno("datasync_file", __wasi_fd_datasync(fd));
  report_errno("advise_file", __wasi_fd_advise(fd, 0, 10, __WASI_ADVICE_SEQUENTIAL));
  report_errno("allocate_file", __wasi_fd_allocate(fd, 0, 4096));
  __wasi_filestat_t st;
  must("fstat", __wasi_fd_filestat_get(fd, &st));
  report("allocate_grows_size", "%llu", (unsigned long long)st.size);
  (void)__wasi_fd_close(fd);
}

static void prestat_checks(void) {
  __wasi_prestat_t p;
  __wasi_errno_t e = __wasi_fd_prestat_get(sb, &p);
  report("prestat", "%s tag=%u len=%u", errname(e), (unsigned)p.tag, (unsigned)p.u.dir.pr_name_len);
  char name[16] = {0};
  e = __wasi_fd_prestat_dir_name(sb, (uint8_t*)name, sizeof name - 1);
  report("prestat_dir_name", "%s %s", errname(e), name);
  report_errno("prestat_dir_name_short_buffer", __wasi_fd_prestat_dir_name(sb, (uint8_t*)name, 3));
  report_errno("prestat_of_stdout", __wasi_fd_prestat_get(1, &p));
  report_errno("prestat_of_closed_fd", __wasi_fd_prestat_get(99, &p));
}

static void fault_checks(void) {
  // An iovec array, or a buffer inside it, past the end of memory.
  static __wasi_ciovec_t bad = {(const uint8_t*)0xfffffff0u, 64};
  report_errno("write_iovec_array_out_of_memory",
               (__wasi_errno_t)raw_fd_write(1, (int32_t)0xfffffff8u, 1, (int32_t)&bad));
  __wasi_size_t n;
  report_errno("write_buffer_out_of_memory",
               (__wasi_errno_t)raw_fd_write(1, (int32_t)&bad, 1, (int32_t)&n));
  report_errno("result_pointer_out_of_memory",
               __wasi_fd_fdstat_get(1, (__wasi_fdstat_t*)0xfffffff0u));
}

int main(void) {
  sb = preopen("/sandbox");
  rights_checks();
  renumber_checks();
  socket_checks();
  stream_checks();
  prestat_checks();
  fault_checks();
  return 0;
}
