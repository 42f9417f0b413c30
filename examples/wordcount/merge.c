// Merges count files written by wordcount: the fan-in step of the wordcount
// example.
//
//   merge [PATH...]
//
// Each PATH is a count file ("WORD COUNT" lines) or a directory, whose
// regular files are read recursively; with no PATH, /inputs. The sums go to
// /outputs/counts.txt, one "WORD COUNT" line per word sorted by word (byte
// order), and the totals to stdout.
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct entry {
  char* word;
  unsigned long long count;
};

static struct entry* entries;
static size_t used, capacity;

static void add(const char* word, unsigned long long count) {
  if (used == capacity) {
    capacity = capacity ? capacity * 2 : 1024;
    entries = realloc(entries, capacity * sizeof *entries);
    if (!entries) {
      fprintf(stderr, "merge: out of memory\n");
      exit(1);
    }
  }
  entries[used].word = strdup(word);
  entries[used].count = count;
  ++used;
}

static int read_counts(const char* path) {
  FILE* f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "merge: %s: %s\n", path, strerror(errno));
    return 1;
  }
  char word[256];
  unsigned long long count;
  int line = 0, fields;
  while ((fields = fscanf(f, "%255s %llu", word, &count)) == 2) {
    add(word, count);
    ++line;
  }
  int bad = fields != EOF;
  fclose(f);
  if (bad) {
    fprintf(stderr, "merge: %s: line %d is not \"WORD COUNT\"\n", path, line + 1);
    return 1;
  }
  return 0;
}

static int read_path(const char* path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "merge: %s: %s\n", path, strerror(errno));
    return 1;
  }
  if (!S_ISDIR(st.st_mode)) return read_counts(path);
  DIR* d = opendir(path);
  if (!d) {
    fprintf(stderr, "merge: %s: %s\n", path, strerror(errno));
    return 1;
  }
  int failed = 0;
  struct dirent* e;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    size_t n = strlen(path) + strlen(e->d_name) + 2;
    char* child = malloc(n);
    snprintf(child, n, "%s/%s", path, e->d_name);
    failed |= read_path(child);
    free(child);
  }
  closedir(d);
  return failed;
}

static int compare(const void* a, const void* b) {
  return strcmp(((const struct entry*)a)->word, ((const struct entry*)b)->word);
}

int main(int argc, char** argv) {
  int failed = 0;
  if (argc < 2) failed = read_path("/inputs");
  for (int i = 1; i < argc; ++i) failed |= read_path(argv[i]);
  if (failed) return 1;
  qsort(entries, used, sizeof *entries, compare);

  FILE* out = fopen("/outputs/counts.txt", "w");
  if (!out) {
    fprintf(stderr, "merge: /outputs/counts.txt: %s\n", strerror(errno));
    return 1;
  }
  unsigned long long total = 0;
  size_t distinct = 0;
  for (size_t i = 0; i < used;) {
    unsigned long long sum = 0;
    size_t j = i;
    for (; j < used && strcmp(entries[j].word, entries[i].word) == 0; ++j) sum += entries[j].count;
    fprintf(out, "%s %llu\n", entries[i].word, sum);
    total += sum;
    ++distinct;
    i = j;
  }
  if (fclose(out) != 0) {
    fprintf(stderr, "merge: /outputs/counts.txt: %s\n", strerror(errno));
    return 1;
  }
  printf("%llu words, %zu distinct\n", total, distinct);
  return 0;
}
