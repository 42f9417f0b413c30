// Never ends on its own: a tight loop with no calls, for --timeout.
#include <stdio.h>

int main(void) {
  printf("spinning\n");
  fflush(stdout);
  volatile unsigned long n = 0;
  for (;;) ++n;
}
