// What a task of a job array must find, whatever ran before it on the same
// worker: memory as the module declares it (a zeroed static buffer, a global
// at its initial value), an empty /outputs, and an environment that names
// only its own task (SHOAL_ARRAY_INDEX equal to argument 1). It then leaves
// traces for the next task to find: the buffer, the global, a file in
// /outputs, and none of its own index in anything but its own task.
// Prints "clean" and exits 0, or names what it found and exits 1.
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char buffer[1 << 16];
static int global = 7;
extern char** environ;

int main(int argc, char** argv) {
  int dirty = 0;
  for (size_t i = 0; i < sizeof buffer; ++i)
    if (buffer[i]) {
      printf("memory: buffer[%zu] is %d\n", i, buffer[i]);
      dirty = 1;
      break;
    }
  if (global != 7) {
    printf("memory: global is %d\n", global);
    dirty = 1;
  }
  DIR* d = opendir("/outputs");
  for (struct dirent* e; d && (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      printf("files: /outputs/%s\n", e->d_name);
      dirty = 1;
    }
  if (d) closedir(d);
  const char* index = getenv("SHOAL_ARRAY_INDEX");
  if (argc < 2 || !index || strcmp(index, argv[1])) {
    printf("env: SHOAL_ARRAY_INDEX is %s, argument %s\n", index ? index : "unset",
           argc > 1 ? argv[1] : "none");
    dirty = 1;
  }
  for (char** e = environ; *e; ++e)
    if (!strncmp(*e, "LEFT_BY=", 8)) {
      printf("env: %s\n", *e);
      dirty = 1;
    }
  memset(buffer, 0xab, sizeof buffer);
  global = atoi(argc > 1 ? argv[1] : "0");
  setenv("LEFT_BY", argc > 1 ? argv[1] : "?", 1);
  FILE* f = fopen("/outputs/trace", "w");
  if (f) {
    fprintf(f, "%s\n", argc > 1 ? argv[1] : "?");
    fclose(f);
  }
  printf("%s\n", dirty ? "dirty" : "clean");
  return dirty;
}
