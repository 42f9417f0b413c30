// Writes argument 1 bytes of 'x' to stdout, then "done" to stderr.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  long total = argc > 1 ? atol(argv[1]) : 0;
  static char buf[65536];
  memset(buf, 'x', sizeof buf);
  while (total > 0) {
    long n = total < (long)sizeof buf ? total : (long)sizeof buf;
    fwrite(buf, 1, (size_t)n, stdout);
    total -= n;
  }
  fflush(stdout);
  fprintf(stderr, "done\n");
  return 0;
}
