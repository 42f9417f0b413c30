// Built with -mbulk-memory: memcpy, memmove and memset of run-time sizes
// become memory.copy and memory.fill. Prints a checksum of the result.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char buf[1 << 16];

int main(int argc, char** argv) {
  // Sizes from the command line, so that nothing is folded at compile time.
  size_t n = argc > 1 ? (size_t)atoi(argv[1]) : 1000;
  if (n * 3 > sizeof buf) return 2;
  memset(buf, 'a', n);
  memset(buf + n, 'b', n);
  memcpy(buf + 2 * n, buf + n / 2, n);  // half a's, half b's
  memmove(buf + 1, buf, 3 * n - 1);     // overlapping: shifts everything by one
  unsigned long sum = 0;
  for (size_t i = 0; i < 3 * n; ++i) sum = sum * 31 + buf[i];
  printf("bulk memory: %c%c%c %c %lu\n", buf[0], buf[1], buf[n + 1], buf[3 * n - 1], sum % 1000003);
  return 0;
}
