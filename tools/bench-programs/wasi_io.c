// wasi_io: WASI call overhead and stdio throughput, for tools/bench.
//   wasi_io calls N    N calls of clock_time_get (a cheap host call)
//   wasi_io loop N     the same loop without the call (the baseline)
//   wasi_io write MB   writes MB MiB to stdout in 64 KiB writes
//   wasi_io read       reads stdin to EOF in 64 KiB reads, prints the bytes
//   wasi_io pwrite N F N pwrite(2)s of 4 KiB into file F (created), at
//                      offsets cycling over its first 1 MiB
//   wasi_io pwloop N F the same without the pwrite (the baseline)
// Uses read(2)/write(2)/clock_gettime, which wasi-libc turns into one
// fd_read / fd_write / clock_time_get each.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char buf[65536];

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  if (!strcmp(argv[1], "calls") || !strcmp(argv[1], "loop")) {
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    int call = !strcmp(argv[1], "calls");
    volatile long sink = 0;
    struct timespec ts = {0, 0};
    for (long i = 0; i < n; i++) {
      if (call) clock_gettime(CLOCK_MONOTONIC, &ts);
      sink += ts.tv_nsec + i;
    }
    printf("%ld\n", (long)(sink & 1));
    return 0;
  }
  if (!strcmp(argv[1], "write")) {
    long mb = argc > 2 ? atol(argv[2]) : 256;
    memset(buf, 'x', sizeof buf);
    for (long i = 0; i < mb * 16; i++) {
      size_t off = 0;
      while (off < sizeof buf) {
        ssize_t w = write(1, buf + off, sizeof buf - off);
        if (w <= 0) return 1;
        off += (size_t)w;
      }
    }
    return 0;
  }
  if (!strcmp(argv[1], "read")) {
    long long total = 0;
    for (;;) {
      ssize_t r = read(0, buf, sizeof buf);
      if (r < 0) return 1;
      if (r == 0) break;
      total += r;
    }
    fprintf(stderr, "%lld\n", total);
    return 0;
  }
  if (!strcmp(argv[1], "pwrite") || !strcmp(argv[1], "pwloop")) {
    if (argc < 4) return 2;
    long n = atol(argv[2]);
    int call = !strcmp(argv[1], "pwrite");
    int fd = open(argv[3], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 1;
    memset(buf, 'p', 4096);
    volatile long sink = 0;
    for (long i = 0; i < n; i++) {
      buf[0] = (char)i;
      if (call && pwrite(fd, buf, 4096, (off_t)(i % 256) * 4096) != 4096) return 1;
      sink += buf[0];
    }
    close(fd);
    printf("%ld\n", (long)(sink & 1));
    return 0;
  }
  return 2;
}
