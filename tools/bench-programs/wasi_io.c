// wasi_io: WASI call overhead and stdio throughput, for tools/bench.
//   wasi_io calls N    N calls of clock_time_get (a cheap host call)
//   wasi_io loop N     the same loop without the call (the baseline)
//   wasi_io write MB   writes MB MiB to stdout in 64 KiB writes
//   wasi_io read       reads stdin to EOF in 64 KiB reads, prints the bytes
// Uses read(2)/write(2)/clock_gettime, which wasi-libc turns into one
// fd_read / fd_write / clock_time_get each.
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
  return 2;
}
