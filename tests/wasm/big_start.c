// Needs 64 MiB of memory before main runs (a zero-initialised array in
// linear memory, indexed at run time so the compiler keeps all of it).
#include <stdio.h>

static volatile char big[64 << 20];

int main(int argc, char** argv) {
  (void)argv;
  unsigned long at = sizeof big - (unsigned long)argc;
  big[at] = 1;
  printf("%d\n", big[at]);
  return 0;
}
