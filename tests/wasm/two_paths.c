// Calls one of two sets of functions, by its first argument ("a" or "b"),
// so that a run compiles only some of the module (V8 compiles lazily):
// the code cache's tests see an entry grow when a later run calls more.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static int path_a(int n) {
  int sum = 0;
  for (int i = 0; i < n; ++i) sum += i * i;
  return sum;
}

static int by_value(const void* x, const void* y) {
  return *(const int*)x - *(const int*)y;
}

__attribute__((noinline)) static int path_b(int n) {
  int values[64];
  for (int i = 0; i < 64; ++i) values[i] = (i * 37 + n) % 101;
  qsort(values, 64, sizeof values[0], by_value);
  char text[32];
  snprintf(text, sizeof text, "%d", values[63]);
  return (int)strtol(text, NULL, 10);
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "b") == 0)
    printf("b %d\n", path_b(argc));
  else
    printf("a %d\n", path_a(argc * 10));
  return 0;
}
