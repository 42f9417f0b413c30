// Allocates 1 MiB blocks, touching each, until malloc fails or argument 1
// blocks are held; prints how many it got. With "abort" as argument 2 it
// aborts when malloc fails, as many real programs do.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  int want = argc > 1 ? atoi(argv[1]) : 1 << 20;
  int abort_on_fail = argc > 2 && strcmp(argv[2], "abort") == 0;
  int got = 0;
  char* volatile last = 0;
  unsigned long sum = 0;
  for (; got < want; ++got) {
    char* p = malloc(1 << 20);
    if (!p) {
      if (abort_on_fail) abort();
      break;
    }
    memset(p, 1, 1 << 20);
    last = p;
    sum += (unsigned char)last[got % (1 << 20)];
  }
  printf("allocated %d MiB (%lu)\n", got, sum == (unsigned long)got ? 1ul : 0ul);
  return 0;
}
