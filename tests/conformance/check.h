// Shared by the conformance guests (compiled to wasm32-wasi). Each check
// prints one line, "<check> <what the host answered>", and the integration
// test (conformance_test.cpp) compares it with what Linux would answer.
// Guests print observations, never verdicts, so that a failure shows what
// shoal actually did.
#pragma once

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

// Raw imports, for what the libc wrappers cannot express: a path holding a
// NUL byte (they take C strings), an iovec array pointing past memory, and
// sock_accept and proc_raise (missing from this wasi-libc's api.h).
#define SHOAL_WASI_IMPORT(name) \
  __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))
SHOAL_WASI_IMPORT(path_open)
int32_t raw_path_open(int32_t fd, int32_t dirflags, int32_t path, int32_t path_len, int32_t oflags,
                      int64_t base, int64_t inheriting, int32_t fdflags, int32_t fd_out);
SHOAL_WASI_IMPORT(path_create_directory)
int32_t raw_path_create_directory(int32_t fd, int32_t path, int32_t path_len);
SHOAL_WASI_IMPORT(fd_write)
int32_t raw_fd_write(int32_t fd, int32_t iovs, int32_t iovs_len, int32_t nwritten);
SHOAL_WASI_IMPORT(random_get)
int32_t raw_random_get(int32_t buf, int32_t len);
SHOAL_WASI_IMPORT(sock_accept)
int32_t raw_sock_accept(int32_t fd, int32_t flags, int32_t fd_out);
SHOAL_WASI_IMPORT(proc_raise)
int32_t raw_proc_raise(int32_t signal);

// The WASI errno's name without its E ("NOENT"), as wasi/errno.cpp spells it.
static inline const char* errname(int e) {
  static const char* const names[] = {
      "SUCCESS",     "2BIG",           "ACCES",       "ADDRINUSE",   "ADDRNOTAVAIL",
      "AFNOSUPPORT", "AGAIN",          "ALREADY",     "BADF",        "BADMSG",
      "BUSY",        "CANCELED",       "CHILD",       "CONNABORTED", "CONNREFUSED",
      "CONNRESET",   "DEADLK",         "DESTADDRREQ", "DOM",         "DQUOT",
      "EXIST",       "FAULT",          "FBIG",        "HOSTUNREACH", "IDRM",
      "ILSEQ",       "INPROGRESS",     "INTR",        "INVAL",       "IO",
      "ISCONN",      "ISDIR",          "LOOP",        "MFILE",       "MLINK",
      "MSGSIZE",     "MULTIHOP",       "NAMETOOLONG", "NETDOWN",     "NETRESET",
      "NETUNREACH",  "NFILE",          "NOBUFS",      "NODEV",       "NOENT",
      "NOEXEC",      "NOLCK",          "NOLINK",      "NOMEM",       "NOMSG",
      "NOPROTOOPT",  "NOSPC",          "NOSYS",       "NOTCONN",     "NOTDIR",
      "NOTEMPTY",    "NOTRECOVERABLE", "NOTSOCK",     "NOTSUP",      "NOTTY",
      "NXIO",        "OVERFLOW",       "OWNERDEAD",   "PERM",        "PIPE",
      "PROTO",       "PROTONOSUPPORT", "PROTOTYPE",   "RANGE",       "ROFS",
      "SPIPE",       "SRCH",           "STALE",       "TIMEDOUT",    "TXTBSY",
      "XDEV",        "NOTCAPABLE",
  };
  if (e >= 0 && (size_t)e < sizeof names / sizeof *names) return names[e];
  return "UNKNOWN";
}

static inline const char* filetype_name(__wasi_filetype_t t) {
  static const char* const names[] = {"UNKNOWN", "BLOCK", "CHAR",   "DIR",
                                      "REG",     "DGRAM", "STREAM", "SYMLINK"};
  return t < 8 ? names[t] : "?";
}

// Prints "<check> <formatted>".
__attribute__((format(printf, 2, 3))) static inline void report(const char* check, const char* fmt,
                                                                ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("%s ", check);
  vprintf(fmt, ap);
  putchar('\n');
  va_end(ap);
}

static inline void report_errno(const char* check, __wasi_errno_t e) {
  report(check, "%s", errname(e));
}

// A setup step that must work; the program stops when it does not, naming it.
static inline void must(const char* what, __wasi_errno_t e) {
  if (e != __WASI_ERRNO_SUCCESS) {
    printf("setup failed: %s: %s\n", what, errname(e));
    exit(3);
  }
}

// The preopened directory the guest knows as `name`.
static inline __wasi_fd_t preopen(const char* name) {
  for (__wasi_fd_t fd = 3;; ++fd) {
    __wasi_prestat_t p;
    __wasi_errno_t e = __wasi_fd_prestat_get(fd, &p);
    if (e == __WASI_ERRNO_BADF) break;
    if (e != __WASI_ERRNO_SUCCESS) continue;
    char buf[256];
    if (p.u.dir.pr_name_len >= sizeof buf) continue;
    if (__wasi_fd_prestat_dir_name(fd, (uint8_t*)buf, p.u.dir.pr_name_len) != 0) continue;
    buf[p.u.dir.pr_name_len] = 0;
    if (strcmp(buf, name) == 0) return fd;
  }
  printf("setup failed: no preopen named %s\n", name);
  exit(3);
}

#define ALL_RIGHTS ((__wasi_rights_t)((1ull << 30) - 1))

// Opens `path` beneath `dir` asking for every right (narrowed by the host).
static inline __wasi_errno_t open_path(__wasi_fd_t dir, const char* path,
                                       __wasi_lookupflags_t lookup, __wasi_oflags_t oflags,
                                       __wasi_rights_t rights, __wasi_fdflags_t fdflags,
                                       __wasi_fd_t* fd) {
  return __wasi_path_open(dir, lookup, path, oflags, rights, rights, fdflags, fd);
}

// Writes `text` to a new (or truncated) file at `path`.
static inline void put_file(__wasi_fd_t dir, const char* path, const char* text) {
  __wasi_fd_t fd;
  must(path,
       open_path(dir, path, 0, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, ALL_RIGHTS, 0, &fd));
  __wasi_ciovec_t iov = {(const uint8_t*)text, strlen(text)};
  __wasi_size_t n;
  must(path, __wasi_fd_write(fd, &iov, 1, &n));
  must(path, __wasi_fd_close(fd));
}

// The whole content of the file at `path` (at most 255 bytes), or "<ERRNO>".
static inline const char* get_file(__wasi_fd_t dir, const char* path) {
  static char buf[256];
  __wasi_fd_t fd;
  __wasi_errno_t e = open_path(dir, path, 0, 0, __WASI_RIGHTS_FD_READ, 0, &fd);
  if (e != __WASI_ERRNO_SUCCESS) {
    snprintf(buf, sizeof buf, "<%s>", errname(e));
    return buf;
  }
  __wasi_iovec_t iov = {(uint8_t*)buf, sizeof buf - 1};
  __wasi_size_t n = 0;
  e = __wasi_fd_read(fd, &iov, 1, &n);
  (void)__wasi_fd_close(fd);
  if (e != __WASI_ERRNO_SUCCESS)
    snprintf(buf, sizeof buf, "<%s>", errname(e));
  else
    buf[n] = 0;
  return buf;
}
