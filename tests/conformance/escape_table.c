// Attempts to reach outside the directory mounted at /sandbox, one row of
// the table per attempt, each with the errno it must end in. The host lays
// out ROOT/inside (mounted) and ROOT/outside (not mounted, holding
// secret.txt and an empty dir/); argv[1] is ROOT/outside as the host names
// it, so that absolute symlinks can point at a file that really exists.
// A guest may not create an absolute symlink (EPERM, a row below), so the
// host plants the absolute ones (abs, host_abs, dangling_abs) beforehand,
// as the owner of an input directory could.
// Rows run in order; a few succeed on purpose (moving or hard-linking a
// symlink stays inside) and the next rows show the result still cannot be
// followed out. Prints "ok ..." or "FAIL ..." per row, then "rows N".
#include "check.h"

enum op {
  OPEN,           // path_open for reading, not following the final symlink
  OPEN_F,         // ... following it
  OPEN_DIR,       // path_open with O_DIRECTORY, not following
  OPEN_DIR_F,     // ... following
  OPEN_FROM_SUB,  // path_open from an fd opened on sandbox/sub
  OPEN_RAW,       // path_open with an explicit length (the path holds a NUL)
  CREATE,         // O_CREAT, not following
  CREATE_F,       // O_CREAT, following
  MKDIR,
  RMDIR,
  UNLINK,
  RENAME,    // path -> arg
  LINK,      // path -> arg, not following
  LINK_F,    // path -> arg, following
  SYMLINK,   // a symlink at path whose target is arg
  STAT,      // path_filestat_get, not following
  STAT_F,    // ... following
  READLINK,  // path_readlink
  TIMES,     // path_filestat_set_times, not following
  TIMES_F,   // ... following
};

static const char* const op_names[] = {
    "open",     "open-follow", "open-dir",      "open-dir-follow", "open-from-sub",
    "open-raw", "create",      "create-follow", "mkdir",           "rmdir",
    "unlink",   "rename",      "link",          "link-follow",     "symlink",
    "stat",     "stat-follow", "readlink",      "times",           "times-follow",
};

struct row {
  enum op op;
  const char* path;
  const char* arg;
  __wasi_errno_t want;
  size_t len;  // OPEN_RAW only: the path's length, NUL included
};

#define NOTCAPABLE __WASI_ERRNO_NOTCAPABLE
static const char kNulPath[] = "victim\0/../../outside/secret.txt";

static const struct row rows[] = {
    // `..` past the mount, however it is spelt.
    {OPEN, "..", 0, NOTCAPABLE, 0},
    {OPEN, "../outside/secret.txt", 0, NOTCAPABLE, 0},
    {OPEN, "sub/../../outside/secret.txt", 0, NOTCAPABLE, 0},
    {OPEN, "sub/deep/../../../outside/secret.txt", 0, NOTCAPABLE, 0},
    {OPEN, "./.././outside/secret.txt", 0, NOTCAPABLE, 0},
    {OPEN, "sub//..//..//outside/secret.txt", 0, NOTCAPABLE, 0},
    {OPEN, "sub/../../inside/victim", 0, NOTCAPABLE, 0},
    {OPEN_FROM_SUB, "..", 0, NOTCAPABLE, 0},
    {OPEN_FROM_SUB, "../victim", 0, NOTCAPABLE, 0},
    // Absolute paths, even to what is inside.
    {OPEN, "/etc/passwd", 0, NOTCAPABLE, 0},
    {OPEN, "/sandbox/victim", 0, NOTCAPABLE, 0},
    // Symlinks out: relative, absolute, chained, deep, as directories.
    {OPEN_F, "rel_out", 0, NOTCAPABLE, 0},
    {OPEN_F, "host_abs", 0, NOTCAPABLE, 0},
    {OPEN, "host_abs", 0, __WASI_ERRNO_LOOP, 0},
    {OPEN, "up/outside/secret.txt", 0, NOTCAPABLE, 0},
    {OPEN_DIR_F, "up", 0, NOTCAPABLE, 0},
    {OPEN, "abs/etc/passwd", 0, NOTCAPABLE, 0},
    {OPEN_F, "chain1", 0, NOTCAPABLE, 0},
    {OPEN, "sub/deep/up3/outside/secret.txt", 0, NOTCAPABLE, 0},
    {OPEN, "sub/inner_up/outside/secret.txt", 0, NOTCAPABLE, 0},
    {OPEN_F, "loop_a", 0, __WASI_ERRNO_LOOP, 0},
    {OPEN, "loop_a/x", 0, __WASI_ERRNO_LOOP, 0},
    // A trailing slash follows the final symlink, and so is refused.
    {OPEN_DIR, "up/", 0, NOTCAPABLE, 0},
    {OPEN_DIR, "abs/", 0, NOTCAPABLE, 0},
    {OPEN_DIR, "updir/", 0, NOTCAPABLE, 0},
    {OPEN_DIR, "sub/deep/up3/", 0, NOTCAPABLE, 0},
    {STAT, "updir/", 0, NOTCAPABLE, 0},
    {READLINK, "up/", 0, NOTCAPABLE, 0},
    // Names that only look like escapes.
    {OPEN, "", 0, __WASI_ERRNO_NOENT, 0},
    {OPEN_RAW, kNulPath, 0, __WASI_ERRNO_INVAL, sizeof kNulPath - 1},
    {OPEN, "%2e%2e/outside/secret.txt", 0, __WASI_ERRNO_NOENT, 0},
    {OPEN, ".../outside/secret.txt", 0, __WASI_ERRNO_NOENT, 0},
    // Creating outside, directly or through a dangling symlink.
    {CREATE, "../outside/new.txt", 0, NOTCAPABLE, 0},
    {CREATE_F, "dangling_out", 0, NOTCAPABLE, 0},
    {CREATE_F, "dangling_abs", 0, NOTCAPABLE, 0},
    {CREATE, "dangling_out", 0, __WASI_ERRNO_LOOP, 0},
    {MKDIR, "../outside/newdir", 0, NOTCAPABLE, 0},
    {MKDIR, "up/newdir", 0, NOTCAPABLE, 0},
    {MKDIR, "dangling_out/", 0, __WASI_ERRNO_EXIST, 0},
    {SYMLINK, "../outside/sym", "x", NOTCAPABLE, 0},
    {SYMLINK, "up/sym", "x", NOTCAPABLE, 0},
    // Removing outside; a trailing slash never follows the symlink it names.
    {RMDIR, "../outside/dir", 0, NOTCAPABLE, 0},
    {RMDIR, "up/outside/dir", 0, NOTCAPABLE, 0},
    {RMDIR, "updir/", 0, __WASI_ERRNO_NOTDIR, 0},
    {UNLINK, "../outside/secret.txt", 0, NOTCAPABLE, 0},
    {UNLINK, "up/outside/secret.txt", 0, NOTCAPABLE, 0},
    {UNLINK, "rel_out/", 0, __WASI_ERRNO_NOTDIR, 0},
    // Renames out of and into the mount.
    {RENAME, "victim", "../outside/moved.txt", NOTCAPABLE, 0},
    {RENAME, "victim", "up/moved.txt", NOTCAPABLE, 0},
    {RENAME, "victim", "updir/", __WASI_ERRNO_NOTDIR, 0},
    {RENAME, "victim", "updir/moved.txt", NOTCAPABLE, 0},
    {RENAME, "sub", "../outside/sub", NOTCAPABLE, 0},
    {RENAME, "../outside/secret.txt", "got", NOTCAPABLE, 0},
    {RENAME, "up/outside/secret.txt", "got", NOTCAPABLE, 0},
    {RENAME, "updir/", "got", __WASI_ERRNO_NOTDIR, 0},
    // Hard links to outside files, and from inside files to outside names.
    {LINK, "../outside/secret.txt", "got", NOTCAPABLE, 0},
    {LINK_F, "rel_out", "got", NOTCAPABLE, 0},
    {LINK_F, "host_abs", "got", NOTCAPABLE, 0},
    {LINK_F, "chain1", "got", NOTCAPABLE, 0},
    {LINK, "victim", "../outside/hard.txt", NOTCAPABLE, 0},
    {LINK, "victim", "up/hard.txt", NOTCAPABLE, 0},
    {LINK, "victim", "updir/hard.txt", NOTCAPABLE, 0},
    // Looking and touching.
    {STAT, "../outside/secret.txt", 0, NOTCAPABLE, 0},
    {STAT_F, "rel_out", 0, NOTCAPABLE, 0},
    {STAT_F, "host_abs", 0, NOTCAPABLE, 0},
    {READLINK, "up/rel_out", 0, NOTCAPABLE, 0},
    {TIMES, "../outside/secret.txt", 0, NOTCAPABLE, 0},
    {TIMES_F, "rel_out", 0, NOTCAPABLE, 0},
    // What stays inside works, and what it makes still cannot lead out.
    {STAT, "rel_out", 0, __WASI_ERRNO_SUCCESS, 0},
    {TIMES, "host_abs", 0, __WASI_ERRNO_SUCCESS, 0},
    {LINK, "host_abs", "hl_abs", __WASI_ERRNO_SUCCESS, 0},
    {OPEN_F, "hl_abs", 0, NOTCAPABLE, 0},
    {RENAME, "rel_out", "sub/deep/rel_out", __WASI_ERRNO_SUCCESS, 0},
    {OPEN_F, "sub/deep/rel_out", 0, __WASI_ERRNO_NOENT, 0},
    {SYMLINK, "mine_abs", "/etc/passwd", __WASI_ERRNO_PERM, 0},
    {OPEN_F, "mine_abs", 0, __WASI_ERRNO_NOENT, 0},
    {SYMLINK, "mine_up", "..", __WASI_ERRNO_SUCCESS, 0},
    {OPEN_F, "mine_up/outside/secret.txt", 0, NOTCAPABLE, 0},
    {OPEN_F, "victim", 0, __WASI_ERRNO_SUCCESS, 0},
};

static __wasi_fd_t sb, sub;

static __wasi_errno_t open_and_close(__wasi_fd_t dir, const char* path, __wasi_lookupflags_t look,
                                     __wasi_oflags_t oflags, __wasi_rights_t rights) {
  __wasi_fd_t fd;
  __wasi_errno_t e = __wasi_path_open(dir, look, path, oflags, rights, rights, 0, &fd);
  if (e == __WASI_ERRNO_SUCCESS) (void)__wasi_fd_close(fd);
  return e;
}

static __wasi_errno_t run(const struct row* r) {
  const __wasi_lookupflags_t F = __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW;
  const __wasi_rights_t read = __WASI_RIGHTS_FD_READ, list = __WASI_RIGHTS_FD_READDIR;
  const __wasi_rights_t write = __WASI_RIGHTS_FD_WRITE;
  __wasi_filestat_t st;
  char buf[64];
  __wasi_size_t n;
  __wasi_fd_t fd;
  switch (r->op) {
    case OPEN:
      return open_and_close(sb, r->path, 0, 0, read);
    case OPEN_F:
      return open_and_close(sb, r->path, F, 0, read);
    case OPEN_DIR:
      return open_and_close(sb, r->path, 0, __WASI_OFLAGS_DIRECTORY, list);
    case OPEN_DIR_F:
      return open_and_close(sb, r->path, F, __WASI_OFLAGS_DIRECTORY, list);
    case OPEN_FROM_SUB:
      return open_and_close(sub, r->path, 0, 0, read);
    case OPEN_RAW: {
      __wasi_errno_t e = (__wasi_errno_t)raw_path_open(sb, 0, (int32_t)r->path, (int32_t)r->len, 0,
                                                       (int64_t)read, 0, 0, (int32_t)&fd);
      if (e == __WASI_ERRNO_SUCCESS) (void)__wasi_fd_close(fd);
      return e;
    }
    case CREATE:
      return open_and_close(sb, r->path, 0, __WASI_OFLAGS_CREAT, write);
    case CREATE_F:
      return open_and_close(sb, r->path, F, __WASI_OFLAGS_CREAT, write);
    case MKDIR:
      return __wasi_path_create_directory(sb, r->path);
    case RMDIR:
      return __wasi_path_remove_directory(sb, r->path);
    case UNLINK:
      return __wasi_path_unlink_file(sb, r->path);
    case RENAME:
      return __wasi_path_rename(sb, r->path, sb, r->arg);
    case LINK:
      return __wasi_path_link(sb, 0, r->path, sb, r->arg);
    case LINK_F:
      return __wasi_path_link(sb, F, r->path, sb, r->arg);
    case SYMLINK:
      return __wasi_path_symlink(r->arg, sb, r->path);
    case STAT:
      return __wasi_path_filestat_get(sb, 0, r->path, &st);
    case STAT_F:
      return __wasi_path_filestat_get(sb, F, r->path, &st);
    case READLINK:
      return __wasi_path_readlink(sb, r->path, (uint8_t*)buf, sizeof buf, &n);
    case TIMES:
      return __wasi_path_filestat_set_times(sb, 0, r->path, 0, 0, __WASI_FSTFLAGS_MTIM_NOW);
    case TIMES_F:
      return __wasi_path_filestat_set_times(sb, F, r->path, 0, 0, __WASI_FSTFLAGS_MTIM_NOW);
  }
  return __WASI_ERRNO_NOSYS;
}

// The layout the rows attack, made from inside with the guest's own calls
// (the absolute symlinks are the host's).
static void plant(void) {
  must("mkdir sub", __wasi_path_create_directory(sb, "sub"));
  must("mkdir sub/deep", __wasi_path_create_directory(sb, "sub/deep"));
  put_file(sb, "victim", "victim");
  const char* const links[][2] = {
      {"up", ".."},
      {"rel_out", "../outside/secret.txt"},
      {"updir", "../outside/dir"},
      {"chain1", "chain2"},
      {"chain2", "sub/chain3"},
      {"sub/chain3", "../../outside/secret.txt"},
      {"sub/deep/up3", "../../.."},
      {"sub/inner_up", "../.."},
      {"loop_a", "loop_b"},
      {"loop_b", "loop_a"},
      {"dangling_out", "../outside/created.txt"},
  };
  for (size_t i = 0; i < sizeof links / sizeof *links; ++i)
    must(links[i][0], __wasi_path_symlink(links[i][1], sb, links[i][0]));
  must("open sub", __wasi_path_open(sb, 0, "sub", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_PATH_OPEN,
                                    ALL_RIGHTS, 0, &sub));
}

int main(int argc, char** argv) {
  if (argc != 2) {
    printf("usage: escape_table HOST_PATH_OF_OUTSIDE\n");
    return 2;
  }
  sb = preopen("/sandbox");
  (void)argv;
  plant();
  int failed = 0;
  const size_t count = sizeof rows / sizeof *rows;
  for (size_t i = 0; i < count; ++i) {
    const struct row* r = &rows[i];
    __wasi_errno_t got = run(r);
    const char* path = r->op == OPEN_RAW ? "victim\\0/../../outside/secret.txt" : r->path;
    printf("%s %s '%s'%s%s%s -> %s", got == r->want ? "ok" : "FAIL", op_names[r->op], path,
           r->arg ? " '" : "", r->arg ? r->arg : "", r->arg ? "'" : "", errname(got));
    if (got != r->want) printf(" (want %s)", errname(r->want));
    putchar('\n');
    failed += got != r->want;
  }
  printf("rows %zu\n", count);
  return failed ? 1 : 0;
}
