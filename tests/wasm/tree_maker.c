// Output trees for the security tests. "write PATH TEXT" writes TEXT to
// PATH; "deep DIR DEPTH NAMELEN" nests DEPTH directories with names of
// NAMELEN letters below DIR (each opened from the one above, so no path
// the guest names is long) and writes "deep" to bottom.txt in the last.
// Prints what it made, or the first error and how far it got.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_text(const char* path, const char* text) {
  FILE* f = fopen(path, "w");
  if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
    printf("write %s: %s\n", path, strerror(errno));
    return 1;
  }
  printf("wrote %s\n", path);
  return 0;
}

static int deep(const char* dir, long depth, long namelen) {
  char name[256];
  if (namelen < 1 || namelen > 255) return 2;
  memset(name, 'd', (size_t)namelen);
  name[namelen] = 0;
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) {
    printf("open %s: %s\n", dir, strerror(errno));
    return 1;
  }
  for (long i = 0; i < depth; ++i) {
    if (mkdirat(fd, name, 0755) != 0) {
      printf("mkdir at depth %ld: %s\n", i, strerror(errno));
      return 1;
    }
    int child = openat(fd, name, O_RDONLY | O_DIRECTORY);
    if (child < 0) {
      printf("open at depth %ld: %s\n", i, strerror(errno));
      return 1;
    }
    close(fd);
    fd = child;
  }
  int out = openat(fd, "bottom.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0 || write(out, "deep", 4) != 4) {
    printf("bottom.txt: %s\n", strerror(errno));
    return 1;
  }
  close(out);
  printf("nested %ld directories\n", depth);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 4 && strcmp(argv[1], "write") == 0) return write_text(argv[2], argv[3]);
  if (argc == 5 && strcmp(argv[1], "deep") == 0)
    return deep(argv[2], atol(argv[3]), atol(argv[4]));
  fprintf(stderr, "usage: tree_maker write PATH TEXT | deep DIR DEPTH NAMELEN\n");
  return 2;
}
