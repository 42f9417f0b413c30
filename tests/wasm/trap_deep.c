// Traps three calls deep, in functions the name section names: the trap's
// message must show them, innermost first.
#include <stdio.h>

__attribute__((noinline)) static int innermost_frame(volatile int* p) {
  if (*p == 7) __builtin_trap();
  return *p;
}

__attribute__((noinline)) static int middle_frame(volatile int* p) {
  return innermost_frame(p) + 1;
}

int main(void) {
  volatile int seven = 7;
  printf("%d\n", middle_frame(&seven));
  return 0;
}
