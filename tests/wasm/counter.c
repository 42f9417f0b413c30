// Counts its runs in a global: every job must start from a fresh instance,
// even when the worker reuses the compiled module, so this prints 1.
#include <stdio.h>

static int runs;

int main(void) {
  printf("%d\n", ++runs);
  return 0;
}
