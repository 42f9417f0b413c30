// Writes argument-1 pairs of lines, "out N\n" to stdout then "err N\n" to
// stderr, each with its own write(2): output whose streams alternate, so
// that no two writes in a row share a log chunk.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int put(int fd, const char* tag, long n) {
  char line[32];
  int len = snprintf(line, sizeof line, "%s %ld\n", tag, n);
  return write(fd, line, (size_t)len) == len ? 0 : 1;
}

int main(int argc, char** argv) {
  long pairs = argc > 1 ? atol(argv[1]) : 0;
  for (long i = 0; i < pairs; ++i)
    if (put(1, "out", i) || put(2, "err", i)) return 1;
  return 0;
}
