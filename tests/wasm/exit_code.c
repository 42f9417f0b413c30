// Exits with the code given as its first argument, through proc_exit, after
// writing to stdout: what is written before exit must not be lost, and
// nothing after it may run.
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  int code = argc > 1 ? atoi(argv[1]) : 0;
  printf("exiting with %d\n", code);
  fflush(stdout);
  exit(code);
  printf("unreachable after exit\n");
  return 99;
}
