// File system round trip in the directory mounted at /data: writes a file,
// reads it back, lists the directory, renames and removes, and prints what
// each step saw. Argument 1 selects an escape attempt instead.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int escape(const char* path) {
  FILE* f = fopen(path, "r");
  if (f) {
    printf("opened %s\n", path);
    fclose(f);
    return 1;
  }
  printf("refused %s: %s\n", path, strerror(errno));
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 2 && strcmp(argv[1], "open") == 0) return escape(argv[2]);

  FILE* f = fopen("/data/out.txt", "w");
  if (!f) {
    perror("fopen /data/out.txt");
    return 2;
  }
  fputs("line one\nline two\n", f);
  fclose(f);

  char buf[64] = {0};
  int fd = open("/data/out.txt", O_RDONLY);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  printf("read %zd bytes: %s", n, buf);

  struct stat st;
  stat("/data/out.txt", &st);
  printf("size %lld\n", (long long)st.st_size);

  mkdir("/data/sub", 0755);
  rename("/data/out.txt", "/data/sub/moved.txt");
  DIR* d = opendir("/data/sub");
  struct dirent* e;
  int entries = 0;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, "moved.txt") == 0) printf("found moved.txt\n");
    ++entries;
  }
  closedir(d);
  printf("entries %d\n", entries);
  printf("unlink %d\n", unlink("/data/sub/moved.txt"));
  printf("rmdir %d\n", rmdir("/data/sub"));
  return 0;
}
