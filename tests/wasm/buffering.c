// Says whether wasi-libc takes stdout and stderr for terminals (and so
// flushes stdout at every newline) or not (and buffers it by block).
#include <stdio.h>
#include <unistd.h>

int main(void) {
  printf("stdout %s\n", isatty(1) ? "is a terminal" : "is not a terminal");
  printf("stderr %s\n", isatty(2) ? "is a terminal" : "is not a terminal");
  return 0;
}
