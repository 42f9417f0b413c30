// Prints each file named by an argument as "== PATH ==" and its bytes, or
// the error opening it.
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char** argv) {
  int status = 0;
  for (int i = 1; i < argc; ++i) {
    printf("== %s ==\n", argv[i]);
    FILE* f = fopen(argv[i], "rb");
    if (!f) {
      printf("cannot open: %s\n", strerror(errno));
      status = 1;
      continue;
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
    fclose(f);
  }
  return status;
}
