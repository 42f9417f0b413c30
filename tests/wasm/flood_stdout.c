// Writes argument 1 MiB of 'x' to stdout in 1 MiB writes (write(2), no
// stdio buffering), then "done" to stderr. A 64-bit count: wasm32's long
// is 32 bits, and this writes gigabytes.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  long long mib = argc > 1 ? atoll(argv[1]) : 0;
  static char buf[1 << 20];
  memset(buf, 'x', sizeof buf);
  for (long long i = 0; i < mib; ++i) {
    size_t done = 0;
    while (done < sizeof buf) {
      ssize_t n = write(1, buf + done, sizeof buf - done);
      if (n <= 0) {
        fprintf(stderr, "write failed after %lld MiB\n", i);
        return 1;
      }
      done += (size_t)n;
    }
  }
  fprintf(stderr, "done\n");
  return 0;
}
