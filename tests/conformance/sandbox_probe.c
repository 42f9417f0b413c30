// Attacks on the sandbox that need the host's help or many attempts.
//
//   sandbox_probe race N     reads /sandbox/d/file (and through d/, d/sub/
//                            and a handle on d) N times each while the host
//                            swaps d for a symlink to the outside; prints
//                            "inside I refused R leaked L created C"
//   sandbox_probe open DIR PATH...
//                            opens each PATH beneath the preopen DIR,
//                            following symlinks; prints "PATH -> ERRNO", or
//                            "PATH -> SUCCESS CONTENT" with its first bytes
//   sandbox_probe link DIR OLD NEW...
//                            path_link OLD to each NEW beneath DIR, following
//                            and not; prints "NEW -> ERRNO"
#include "check.h"

static const char kOutside[] = "OUTSIDE";

static int classify(const char* content, int* inside, int* refused, int* leaked) {
  if (strncmp(content, kOutside, sizeof kOutside - 1) == 0) return ++*leaked;
  if (strcmp(content, "inside") == 0) return ++*inside;
  return ++*refused;
}

static int race(int rounds) {
  __wasi_fd_t sb = preopen("/sandbox");
  const char* const paths[] = {"d/file", "d/./file", "d/sub/../file", "d/sub/file2"};
  int inside = 0, refused = 0, leaked = 0, created = 0;
  for (int i = 0; i < rounds; ++i) {
    for (size_t p = 0; p < sizeof paths / sizeof *paths; ++p)
      classify(get_file(sb, paths[p]), &inside, &refused, &leaked);
    // A handle on d, taken while d may be the symlink, then a file beneath it.
    __wasi_fd_t d;
    if (open_path(sb, "d", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, __WASI_OFLAGS_DIRECTORY, ALL_RIGHTS,
                  0, &d) == __WASI_ERRNO_SUCCESS) {
      classify(get_file(d, "file"), &inside, &refused, &leaked);
      (void)__wasi_fd_close(d);
    } else {
      ++refused;
    }
    // Creating through d must never create outside.
    __wasi_fd_t fd;
    if (open_path(sb, "d/made", 0, __WASI_OFLAGS_CREAT, ALL_RIGHTS, 0, &fd) ==
        __WASI_ERRNO_SUCCESS) {
      ++created;
      (void)__wasi_fd_close(fd);
      (void)__wasi_path_unlink_file(sb, "d/made");
    }
  }
  printf("inside %d refused %d leaked %d created %d\n", inside, refused, leaked, created);
  return leaked ? 1 : 0;
}

static void open_each(const char* dir, char** paths, int count) {
  __wasi_fd_t base = preopen(dir);
  for (int i = 0; i < count; ++i) {
    __wasi_fd_t fd;
    __wasi_errno_t e = open_path(base, paths[i], __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, 0,
                                 __WASI_RIGHTS_FD_READ, 0, &fd);
    if (e != __WASI_ERRNO_SUCCESS) {
      printf("%s -> %s\n", paths[i], errname(e));
      continue;
    }
    char buf[24] = {0};
    __wasi_iovec_t iov = {(uint8_t*)buf, sizeof buf - 1};
    __wasi_size_t n = 0;
    __wasi_errno_t r = __wasi_fd_read(fd, &iov, 1, &n);
    (void)__wasi_fd_close(fd);
    for (__wasi_size_t j = 0; j < n; ++j)
      if (buf[j] == '\n' || buf[j] == 0) buf[j] = ' ';
    printf("%s -> SUCCESS %s\n", paths[i], r == __WASI_ERRNO_SUCCESS ? buf : errname(r));
  }
}

static void link_each(const char* dir, const char* old, char** news, int count) {
  __wasi_fd_t base = preopen(dir);
  for (int i = 0; i < count; ++i) {
    __wasi_errno_t plain = __wasi_path_link(base, 0, old, base, news[i]);
    __wasi_errno_t follow =
        __wasi_path_link(base, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, old, base, news[i]);
    printf("%s -> %s %s\n", news[i], errname(plain), errname(follow));
  }
}

int main(int argc, char** argv) {
  if (argc >= 3 && strcmp(argv[1], "race") == 0) return race(atoi(argv[2]));
  if (argc >= 3 && strcmp(argv[1], "open") == 0) {
    open_each(argv[2], argv + 3, argc - 3);
    return 0;
  }
  if (argc >= 4 && strcmp(argv[1], "link") == 0) {
    link_each(argv[2], argv[3], argv + 4, argc - 4);
    return 0;
  }
  printf("usage: sandbox_probe race N | open DIR PATH... | link DIR OLD NEW...\n");
  return 2;
}
