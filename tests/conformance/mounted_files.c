// Reads the files named by its arguments through libc (as any program
// would), then tries to change each one and its directory, and lists the
// directory. For single-file mounts: each line shows what the guest saw.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}

static void list_dir(const char* dir) {
  DIR* d = opendir(dir);
  if (!d) {
    printf("ls %s: %s\n", dir, strerror(errno));
    return;
  }
  char* names[64];
  int n = 0;
  struct dirent* e;
  while ((e = readdir(d)) && n < 64) names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, cmp);
  printf("ls %s:", dir);
  for (int i = 0; i < n; ++i) {
    printf(" %s", names[i]);
    free(names[i]);
  }
  putchar('\n');
}

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const char* path = argv[i];
    FILE* f = fopen(path, "r");
    if (!f) {
      printf("read %s: %s\n", path, strerror(errno));
      continue;
    }
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    struct stat st;
    stat(path, &st);
    printf("read %s: %s (%s, %lld bytes)\n", path, buf, S_ISREG(st.st_mode) ? "file" : "other",
           (long long)st.st_size);
    int fd = open(path, O_WRONLY | O_APPEND);
    printf("append %s: %s\n", path, fd < 0 ? strerror(errno) : "opened");
    if (fd >= 0) close(fd);
    printf("unlink %s: %s\n", path, unlink(path) ? strerror(errno) : "removed");
    char dir[256], created[300];
    snprintf(dir, sizeof dir, "%s", path);
    char* slash = strrchr(dir, '/');
    if (slash) slash[slash == dir ? 1 : 0] = 0;  // "/top.txt" lives in "/"
    snprintf(created, sizeof created, "%s/new.txt", dir);
    fd = open(created, O_WRONLY | O_CREAT, 0644);
    printf("create %s: %s\n", created, fd < 0 ? strerror(errno) : "created");
    if (fd >= 0) close(fd);
    list_dir(dir);
  }
  return 0;
}
