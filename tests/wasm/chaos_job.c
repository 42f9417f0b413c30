// A job whose every byte follows from its argument K, so that a run can be
// checked against the same job run without faults: stdout is "job K" and K
// % 7 + 1 lines of a checksum chain, stderr "K done", and
// /outputs/result.txt holds 64 + K % 512 bytes of the chain. Argument 2, if
// given, is a number of milliseconds to keep busy first (the clock is the
// guest's only view of time); argument 3, a file whose bytes to copy to
// stdout after the chain (an input).
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static unsigned next(unsigned x) {
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return x;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  long k = atol(argv[1]);
  if (argc > 2) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long ms = atol(argv[2]);
    do {
      clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < ms);
  }
  unsigned x = (unsigned)k * 2654435761u + 1;
  printf("job %ld\n", k);
  for (long i = 0; i < k % 7 + 1; ++i) {
    x = next(x);
    printf("%08x\n", x);
  }
  if (argc > 3) {
    FILE* in = fopen(argv[3], "rb");
    if (!in) return 5;
    int c;
    while ((c = fgetc(in)) != EOF) putchar(c);
    fclose(in);
  }
  fprintf(stderr, "%ld done\n", k);
  FILE* f = fopen("/outputs/result.txt", "wb");
  if (!f) return 3;
  for (long i = 0; i < 64 + k % 512; ++i) {
    x = next(x);
    fputc('a' + (int)(x % 26), f);
  }
  return fclose(f) == 0 ? 0 : 4;
}
