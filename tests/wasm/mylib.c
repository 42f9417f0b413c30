// An import module (a WASI reactor): `add`, and `greet`, which writes
// through WASI from its own memory. Its constructor runs in _initialize;
// greet says whether it did.
#include <stdio.h>

static int initialized;

__attribute__((constructor)) static void setup(void) {
  initialized = 1;
}

__attribute__((export_name("add"))) int add(int a, int b) {
  return a + b;
}

__attribute__((export_name("greet"))) void greet(void) {
  printf("hello from mylib (%s)\n", initialized ? "initialized" : "not initialized");
  fflush(stdout);
}
