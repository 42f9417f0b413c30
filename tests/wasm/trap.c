// Traps after writing a line: the line must arrive, then the trap message.
#include <stdio.h>

int main(void) {
  printf("before the trap\n");
  fflush(stdout);
  __builtin_trap();
}
