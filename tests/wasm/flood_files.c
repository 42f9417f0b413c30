// Output floods. "files DIR N" creates N one-byte files in DIR; "big PATH
// MIB" writes MIB MiB to one file in 1 MiB writes; "sparse PATH GIB" makes
// a file of GIB GiB by writing one byte at its end; "hold PATH MIB" writes
// MIB MiB to one file, prints "written", then loops until stopped. Prints
// what it made, or the first error and how far it got.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int files(const char* dir, long n) {
  char path[512];
  for (long i = 0; i < n; ++i) {
    snprintf(path, sizeof path, "%s/f%06ld", dir, i);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "x", 1) != 1) {
      printf("file %ld: %s\n", i, strerror(errno));
      return 1;
    }
    close(fd);
  }
  printf("created %ld files\n", n);
  return 0;
}

static int big(const char* path, long long mib) {
  static char buf[1 << 20];
  memset(buf, 'y', sizeof buf);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    printf("open %s: %s\n", path, strerror(errno));
    return 1;
  }
  for (long long i = 0; i < mib; ++i) {
    if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) {
      printf("write after %lld MiB: %s\n", i, strerror(errno));
      return 1;
    }
  }
  close(fd);
  printf("wrote %lld MiB\n", mib);
  return 0;
}

static int sparse(const char* path, long long gib) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || pwrite(fd, "z", 1, (off_t)(gib << 30) - 1) != 1) {
    printf("sparse %s: %s\n", path, strerror(errno));
    return 1;
  }
  close(fd);
  printf("made %lld GiB\n", gib);
  return 0;
}

static int hold(const char* path, long long mib) {
  if (big(path, mib) != 0) return 1;
  printf("written\n");
  fflush(stdout);
  volatile unsigned long n = 0;
  for (;;) ++n;
}

int main(int argc, char** argv) {
  if (argc == 4 && strcmp(argv[1], "hold") == 0) return hold(argv[2], atoll(argv[3]));
  if (argc == 4 && strcmp(argv[1], "files") == 0) return files(argv[2], atol(argv[3]));
  if (argc == 4 && strcmp(argv[1], "big") == 0) return big(argv[2], atoll(argv[3]));
  if (argc == 4 && strcmp(argv[1], "sparse") == 0) return sparse(argv[2], atoll(argv[3]));
  printf("usage: flood_files files DIR N | big PATH MIB | sparse PATH GIB | hold PATH MIB\n");
  return 2;
}
