// For the remote tests: `relay SECONDS [FILE...]` prints "start", sleeps,
// copies each FILE to /outputs/<its base name> (saying how many bytes), and
// prints "done".
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char** argv) {
  printf("start\n");
  fflush(stdout);
  if (argc > 1) {
    struct timespec ts = {atoi(argv[1]), 0};
    nanosleep(&ts, NULL);
  }
  for (int i = 2; i < argc; ++i) {
    FILE* in = fopen(argv[i], "rb");
    if (!in) {
      perror(argv[i]);
      return 2;
    }
    const char* base = strrchr(argv[i], '/');
    char dest[512];
    snprintf(dest, sizeof dest, "/outputs/%s", base ? base + 1 : argv[i]);
    FILE* out = fopen(dest, "wb");
    if (!out) {
      perror(dest);
      return 3;
    }
    char buf[4096];
    size_t n, total = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) total += fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
    printf("copied %s %zu\n", base ? base + 1 : argv[i], total);
  }
  printf("done\n");
  return 0;
}
