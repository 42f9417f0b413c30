// Prints "tick 1" ... "tick N" (argument 1, default 10), sleeping the
// milliseconds of argument 2 (default 100) before each: a job that runs for
// a while and whose whole output is known in advance. With argument 3, also
// writes the lines to that file.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10;
  long ms = argc > 2 ? atol(argv[2]) : 100;
  FILE* copy = NULL;
  if (argc > 3 && !(copy = fopen(argv[3], "w"))) {
    perror(argv[3]);
    return 1;
  }
  for (int i = 1; i <= n; ++i) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    if (ms > 0) nanosleep(&t, NULL);
    printf("tick %d\n", i);
    fflush(stdout);
    if (copy) fprintf(copy, "tick %d\n", i);
  }
  if (copy && fclose(copy) != 0) return 1;
  return 0;
}
