// File-system calls beneath the directory mounted read-write at /sandbox
// (empty at start): directory listing, timestamps, symlinks, trailing
// slashes, holes, positional I/O, rename and removal, each answered as
// Linux answers. Prints one "<check> <observed>" line per check.
#include "check.h"

static __wasi_fd_t sb;

static __wasi_errno_t mkdir_(const char* p) {
  return __wasi_path_create_directory(sb, p);
}

#define DIR_RIGHTS (__WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_PATH_OPEN)

// Opens for reading and writing, or for listing with the directory flag.
static __wasi_errno_t open_(const char* p, __wasi_lookupflags_t lookup, __wasi_oflags_t oflags) {
  __wasi_fd_t fd;
  __wasi_rights_t rights = (oflags & __WASI_OFLAGS_DIRECTORY)
                               ? DIR_RIGHTS
                               : __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE;
  __wasi_errno_t e = open_path(sb, p, lookup, oflags, rights, 0, &fd);
  if (e == __WASI_ERRNO_SUCCESS) (void)__wasi_fd_close(fd);
  return e;
}

static int cmp_names(const void* a, const void* b) {
  return strcmp(*(const char* const*)a, *(const char* const*)b);
}

// Lists the directory with fd_readdir through a `bufsize`-byte buffer,
// resuming from the last whole entry's cookie when the buffer fills, and
// prints the sorted "name:TYPE" list.
static void list_dir(const char* check, const char* path, size_t bufsize) {
  __wasi_fd_t fd;
  must(path, open_path(sb, path, 0, __WASI_OFLAGS_DIRECTORY, DIR_RIGHTS, 0, &fd));
  static char names[32][64];
  static const char* sorted[32];
  int count = 0;
  uint8_t buf[512];
  __wasi_dircookie_t cookie = 0;
  for (;;) {
    __wasi_size_t used;
    must("fd_readdir", __wasi_fd_readdir(fd, buf, bufsize, cookie, &used));
    size_t at = 0;
    while (at + sizeof(__wasi_dirent_t) <= used) {
      __wasi_dirent_t d;
      memcpy(&d, buf + at, sizeof d);
      if (at + sizeof d + d.d_namlen > used) break;  // cut short: ask again
      if (count < 32) {
        snprintf(names[count], sizeof names[count], "%.*s:%s", (int)d.d_namlen,
                 (const char*)buf + at + sizeof d, filetype_name(d.d_type));
        sorted[count] = names[count];
        ++count;
      }
      cookie = d.d_next;
      at += sizeof d + d.d_namlen;
    }
    if (used < bufsize) break;
  }
  (void)__wasi_fd_close(fd);
  qsort(sorted, (size_t)count, sizeof *sorted, cmp_names);
  printf("%s", check);
  for (int i = 0; i < count; ++i) printf(" %s", sorted[i]);
  putchar('\n');
}

static void readdir_checks(void) {
  must("mkdir rd", mkdir_("rd"));
  put_file(sb, "rd/a", "a");
  put_file(sb, "rd/b", "b");
  must("mkdir rd/sub", mkdir_("rd/sub"));
  must("symlink rd/l", __wasi_path_symlink("a", sb, "rd/l"));
  list_dir("readdir_lists_dot_and_dotdot", "rd", 512);
  // 40 bytes hold one header and a short name: every entry needs a new call.
  list_dir("readdir_resumes_from_cookie", "rd", 40);
  __wasi_fd_t fd;
  // Writing to a directory is refused as Linux's open(O_WRONLY) refuses it.
  report_errno("open_dir_asking_fd_write",
               open_path(sb, "rd", 0, __WASI_OFLAGS_DIRECTORY, ALL_RIGHTS, 0, &fd));
  must("open rd/a", open_path(sb, "rd/a", 0, 0, ALL_RIGHTS, 0, &fd));
  uint8_t buf[64];
  __wasi_size_t used;
  report_errno("readdir_on_a_file", __wasi_fd_readdir(fd, buf, sizeof buf, 0, &used));
  (void)__wasi_fd_close(fd);
}

static void timestamp_checks(void) {
  put_file(sb, "t", "t");
  const __wasi_timestamp_t atim = 1600000000123456789ull, mtim = 1700000000987654321ull;
  report_errno("path_set_times",
               __wasi_path_filestat_set_times(sb, 0, "t", atim, mtim,
                                              __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
  __wasi_filestat_t st;
  must("stat t", __wasi_path_filestat_get(sb, 0, "t", &st));
  report("path_times_keep_nanoseconds", "%llu %llu", (unsigned long long)st.atim,
         (unsigned long long)st.mtim);
  __wasi_fd_t fd;
  must("open t", open_path(sb, "t", 0, 0, ALL_RIGHTS, 0, &fd));
  report_errno("fd_set_times",
               __wasi_fd_filestat_set_times(fd, 1000000001ull, 2000000002ull,
                                            __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
  must("fstat t", __wasi_fd_filestat_get(fd, &st));
  report("fd_times_keep_nanoseconds", "%llu %llu", (unsigned long long)st.atim,
         (unsigned long long)st.mtim);
  // Only mtim set: atim must be left as it was.
  must("mtim only", __wasi_fd_filestat_set_times(fd, 0, 3000000003ull, __WASI_FSTFLAGS_MTIM));
  must("fstat t", __wasi_fd_filestat_get(fd, &st));
  report("set_mtim_leaves_atim", "%llu %llu", (unsigned long long)st.atim,
         (unsigned long long)st.mtim);
  report_errno(
      "set_and_now_together_is_inval",
      __wasi_fd_filestat_set_times(fd, 5, 0, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW));
  (void)__wasi_fd_close(fd);
}

static void readlink_checks(void) {
  must("symlink long", __wasi_path_symlink("a-rather-long-target", sb, "long"));
  char buf[64];
  __wasi_size_t n = 0;
  __wasi_errno_t e = __wasi_path_readlink(sb, "long", (uint8_t*)buf, 6, &n);
  report("readlink_short_buffer_truncates", "%s %u %.*s", errname(e), (unsigned)n, (int)n, buf);
  e = __wasi_path_readlink(sb, "long", (uint8_t*)buf, sizeof buf, &n);
  report("readlink_whole", "%s %u %.*s", errname(e), (unsigned)n, (int)n, buf);
  report_errno("readlink_empty_buffer", __wasi_path_readlink(sb, "long", (uint8_t*)buf, 0, &n));
  report_errno("readlink_not_a_link", __wasi_path_readlink(sb, "t", (uint8_t*)buf, 64, &n));
}

static void symlink_checks(void) {
  must("mkdir d", mkdir_("d"));
  put_file(sb, "f", "f");
  must("symlink ldir", __wasi_path_symlink("d", sb, "ldir"));
  must("symlink lfile", __wasi_path_symlink("f", sb, "lfile"));
  must("symlink dangling", __wasi_path_symlink("nowhere", sb, "dangling"));
  must("symlink dangling2", __wasi_path_symlink("nowhere2", sb, "dangling2"));
  report_errno("open_symlink_nofollow", open_("lfile", 0, 0));
  report_errno("open_symlink_nofollow_directory", open_("ldir", 0, __WASI_OFLAGS_DIRECTORY));
  report_errno("open_symlink_follow_directory",
               open_("ldir", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, __WASI_OFLAGS_DIRECTORY));
  report_errno("open_symlink_trailing_slash_follows", open_("ldir/", 0, __WASI_OFLAGS_DIRECTORY));
  report_errno("open_dangling_inside_path", open_("dangling/x", 0, 0));
  report_errno("open_dangling_follow", open_("dangling", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, 0));
  __wasi_filestat_t st;
  __wasi_errno_t e = __wasi_path_filestat_get(sb, 0, "dangling", &st);
  report("stat_dangling_nofollow", "%s %s", errname(e), filetype_name(st.filetype));
  e = __wasi_path_filestat_get(sb, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "lfile", &st);
  report("stat_symlink_follow", "%s %s %llu", errname(e), filetype_name(st.filetype),
         (unsigned long long)st.size);
  // Linux creates the target of a dangling symlink under O_CREAT...
  report_errno("creat_through_dangling_creates_target",
               open_("dangling", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, __WASI_OFLAGS_CREAT));
  report_errno("created_target_exists", __wasi_path_filestat_get(sb, 0, "nowhere", &st));
  // ...but never under O_CREAT | O_EXCL, which fails on any symlink.
  report_errno("creat_excl_on_dangling", open_("dangling2", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW,
                                               __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL));
  report_errno("creat_excl_left_target_alone", __wasi_path_filestat_get(sb, 0, "nowhere2", &st));
  report_errno("mkdir_dangling_with_slash", mkdir_("dangling2/"));
  report_errno("mkdir_dangling_with_slash_left_target_alone",
               __wasi_path_filestat_get(sb, 0, "nowhere2", &st));
  report_errno("symlink_over_existing", __wasi_path_symlink("x", sb, "ldir/"));
}

static void nul_checks(void) {
  static const char path[] = "nul\0/../x";
  __wasi_fd_t fd;
  report_errno(
      "open_path_with_nul",
      (__wasi_errno_t)raw_path_open(sb, 0, (int32_t)path, sizeof path - 1, __WASI_OFLAGS_CREAT,
                                    (int64_t)ALL_RIGHTS, (int64_t)ALL_RIGHTS, 0, (int32_t)&fd));
  report_errno("mkdir_path_with_nul",
               (__wasi_errno_t)raw_path_create_directory(sb, (int32_t)path, sizeof path - 1));
  __wasi_filestat_t st;
  report_errno("nul_created_nothing", __wasi_path_filestat_get(sb, 0, "nul", &st));
}

static void trailing_slash_checks(void) {
  report_errno("open_file_with_slash", open_("f/", 0, 0));
  report_errno("open_creat_with_slash", open_("newfile/", 0, __WASI_OFLAGS_CREAT));
  __wasi_filestat_t st;
  report_errno("stat_file_with_slash", __wasi_path_filestat_get(sb, 0, "f/", &st));
  report_errno("unlink_file_with_slash", __wasi_path_unlink_file(sb, "f/"));
  report_errno("unlink_dir_with_slash", __wasi_path_unlink_file(sb, "d/"));
  // The symlink itself is the last component: never followed, never removed.
  report_errno("unlink_symlink_to_dir_with_slash", __wasi_path_unlink_file(sb, "ldir/"));
  report_errno("rmdir_symlink_to_dir_with_slash", __wasi_path_remove_directory(sb, "ldir/"));
  report_errno("symlinked_dir_survives", __wasi_path_filestat_get(sb, 0, "d", &st));
  report_errno("rename_onto_symlink_with_slash", __wasi_path_rename(sb, "f", sb, "ldir/"));
  report_errno("mkdir_with_slash", mkdir_("made/"));
  char buf[8];
  __wasi_size_t n;
  report_errno("readlink_file_with_slash", __wasi_path_readlink(sb, "f/", (uint8_t*)buf, 8, &n));
  report_errno("readlink_symlink_to_dir_with_slash",
               __wasi_path_readlink(sb, "ldir/", (uint8_t*)buf, 8, &n));
}

static void fd_flag_checks(void) {
  put_file(sb, "ap", "12345");
  __wasi_fd_t fd;
  must("open ap", open_path(sb, "ap", 0, 0, ALL_RIGHTS, __WASI_FDFLAGS_APPEND, &fd));
  __wasi_fdstat_t fs;
  must("fdstat", __wasi_fd_fdstat_get(fd, &fs));
  report("fdstat_reports_append", "%s %u", filetype_name(fs.fs_filetype), (unsigned)fs.fs_flags);
  __wasi_filesize_t pos;
  must("seek", __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
  __wasi_ciovec_t iov = {(const uint8_t*)"x", 1};
  __wasi_size_t n;
  must("write", __wasi_fd_write(fd, &iov, 1, &n));
  report("append_writes_at_end", "%s", get_file(sb, "ap"));
  report_errno("clear_append", __wasi_fd_fdstat_set_flags(fd, 0));
  must("fdstat", __wasi_fd_fdstat_get(fd, &fs));
  report("fdstat_after_clear", "%u", (unsigned)fs.fs_flags);
  (void)__wasi_fd_close(fd);
}

static void hole_and_positional_checks(void) {
  __wasi_fd_t fd;
  must("open hole", open_path(sb, "hole", 0, __WASI_OFLAGS_CREAT, ALL_RIGHTS, 0, &fd));
  __wasi_ciovec_t ab = {(const uint8_t*)"ab", 2}, cd = {(const uint8_t*)"cd", 2};
  __wasi_size_t n;
  __wasi_filesize_t pos;
  must("write ab", __wasi_fd_write(fd, &ab, 1, &n));
  __wasi_errno_t e = __wasi_fd_seek(fd, 10, __WASI_WHENCE_SET, &pos);
  report("seek_past_end", "%s %llu", errname(e), (unsigned long long)pos);
  must("write cd", __wasi_fd_write(fd, &cd, 1, &n));
  __wasi_filestat_t st;
  must("fstat", __wasi_fd_filestat_get(fd, &st));
  uint8_t buf[16];
  __wasi_iovec_t iov = {buf, sizeof buf};
  must("pread", __wasi_fd_pread(fd, &iov, 1, 0, &n));
  printf("hole_reads_as_zeros %llu", (unsigned long long)st.size);
  for (__wasi_size_t i = 0; i < n; ++i) printf(" %02x", buf[i]);
  putchar('\n');

  // pread and pwrite leave the offset where it was.
  must("seek 2", __wasi_fd_seek(fd, 2, __WASI_WHENCE_SET, &pos));
  iov.buf_len = 3;
  must("pread", __wasi_fd_pread(fd, &iov, 1, 10, &n));
  __wasi_filesize_t after_pread;
  must("tell", __wasi_fd_tell(fd, &after_pread));
  __wasi_ciovec_t z = {(const uint8_t*)"Z", 1};
  must("pwrite", __wasi_fd_pwrite(fd, &z, 1, 0, &n));
  __wasi_filesize_t after_pwrite;
  must("tell", __wasi_fd_tell(fd, &after_pwrite));
  report("pread_pwrite_keep_offset", "%.*s %llu %llu", (int)iov.buf_len, buf,
         (unsigned long long)after_pread, (unsigned long long)after_pwrite);
  iov.buf_len = 2;
  must("pread", __wasi_fd_pread(fd, &iov, 1, 0, &n));
  report("pwrite_wrote_at_offset", "%.*s", (int)n, buf);
  // pread at the end reads nothing rather than failing.
  e = __wasi_fd_pread(fd, &iov, 1, 1000, &n);
  report("pread_past_end", "%s %u", errname(e), (unsigned)n);
  report_errno("seek_before_start", __wasi_fd_seek(fd, -1, __WASI_WHENCE_SET, &pos));
  e = __wasi_fd_filestat_set_size(fd, 100);
  must("fstat", __wasi_fd_filestat_get(fd, &st));
  report("set_size_grows", "%s %llu", errname(e), (unsigned long long)st.size);
  (void)__wasi_fd_close(fd);
  iov.buf_len = 4;
  report_errno("read_a_directory", __wasi_fd_read(sb, &iov, 1, &n));
}

static void rename_and_remove_checks(void) {
  put_file(sb, "r1", "one");
  put_file(sb, "r2", "two");
  report_errno("rename_over_existing_file", __wasi_path_rename(sb, "r1", sb, "r2"));
  report("rename_target_has_source_content", "%s", get_file(sb, "r2"));
  report("rename_source_is_gone", "%s", get_file(sb, "r1"));
  must("mkdir full", mkdir_("full"));
  put_file(sb, "full/x", "x");
  must("mkdir empty", mkdir_("empty"));
  must("mkdir mover", mkdir_("mover"));
  report_errno("rename_dir_over_file", __wasi_path_rename(sb, "mover", sb, "r2"));
  report_errno("rename_file_over_dir", __wasi_path_rename(sb, "r2", sb, "empty"));
  report_errno("rename_dir_over_nonempty_dir", __wasi_path_rename(sb, "mover", sb, "full"));
  report_errno("rename_dir_into_itself", __wasi_path_rename(sb, "mover", sb, "mover/in"));
  report_errno("rename_dir_over_empty_dir", __wasi_path_rename(sb, "mover", sb, "empty"));
  report_errno("rename_missing", __wasi_path_rename(sb, "missing", sb, "x"));
  report_errno("rmdir_nonempty", __wasi_path_remove_directory(sb, "full"));
  report_errno("rmdir_file", __wasi_path_remove_directory(sb, "r2"));
  report_errno("rmdir_dot", __wasi_path_remove_directory(sb, "full/."));
  report_errno("rmdir_dotdot", __wasi_path_remove_directory(sb, "full/.."));
  report_errno("unlink_dir", __wasi_path_unlink_file(sb, "full"));
  report_errno("unlink_missing", __wasi_path_unlink_file(sb, "missing"));
  report_errno("mkdir_existing", mkdir_("full"));
  report_errno("link_dir", __wasi_path_link(sb, 0, "full", sb, "full2"));
  report_errno("link_over_existing", __wasi_path_link(sb, 0, "r2", sb, "full/x"));
  report_errno("link_file", __wasi_path_link(sb, 0, "r2", sb, "r3"));
  __wasi_filestat_t st;
  must("stat r3", __wasi_path_filestat_get(sb, 0, "r3", &st));
  report("link_count", "%llu", (unsigned long long)st.nlink);
  report_errno("open_missing", open_("missing", 0, 0));
  report_errno("creat_excl_existing", open_("r2", 0, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL));
  report_errno("open_directory_flag_on_file", open_("r2", 0, __WASI_OFLAGS_DIRECTORY));
  report_errno("unlink_file", __wasi_path_unlink_file(sb, "full/x"));
  report_errno("rmdir_emptied", __wasi_path_remove_directory(sb, "full"));
}

int main(void) {
  sb = preopen("/sandbox");
  readdir_checks();
  timestamp_checks();
  readlink_checks();
  symlink_checks();
  nul_checks();
  trailing_slash_checks();
  fd_flag_checks();
  hole_and_positional_checks();
  rename_and_remove_checks();
  return 0;
}
