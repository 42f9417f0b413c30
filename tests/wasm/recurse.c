// Recurses without end: V8 must stop it with a clean trap.
#include <stdio.h>
#include <string.h>

static int depth(int n) {
  volatile char frame[64];
  memset((char*)frame, n, sizeof frame);
  if (n < 0) return 0;
  return frame[n % 64] + depth(n + 1) + frame[0];
}

int main(void) {
  printf("%d\n", depth(0));
  return 0;
}
