// walk: a small find(1) and du(1) in one. Walks the directory ROOT without
// following symlinks, visiting each directory's entries in byte order of
// their names, and prints one line per entry that passes the filters:
//
//   f 1234 sub/file.txt        regular file and its size
//   d - sub                    directory
//   l - sub/link -> target     symlink and its target
//
// With -du it then prints, after each directory's entries, the bytes of
// regular files beneath it ("du 5678 sub"), and at the end a summary.
// Paths are printed relative to ROOT so that the output does not depend on
// where ROOT is mounted.
//
// usage: walk [-name GLOB] [-type f|d|l] [-maxdepth N] [-du] ROOT
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct options {
  const char* name_glob;
  char type;  // 0: any
  int max_depth;
  int du;
};

struct totals {
  uint64_t files, dirs, links, others, bytes, errors;
};

static struct options opt = {NULL, 0, -1, 0};
static struct totals total;

static void* xmalloc(size_t n) {
  void* p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "walk: out of memory\n");
    exit(2);
  }
  return p;
}

static char* join(const char* dir, const char* name) {
  size_t a = strlen(dir), b = strlen(name);
  char* out = xmalloc(a + b + 2);
  memcpy(out, dir, a);
  size_t at = a;
  if (a > 0 && dir[a - 1] != '/') out[at++] = '/';
  memcpy(out + at, name, b + 1);
  return out;
}

// Matches a bracket expression "[...]" at *pat against c; advances *pat past
// it. Returns -1 for a malformed bracket (then '[' is taken literally).
static int match_bracket(const char** pat, unsigned char c) {
  const char* p = *pat + 1;
  int negate = 0, matched = 0;
  if (*p == '!' || *p == '^') {
    negate = 1;
    ++p;
  }
  int first = 1;
  while (*p && (*p != ']' || first)) {
    unsigned char lo = (unsigned char)*p, hi = lo;
    if (p[1] == '-' && p[2] && p[2] != ']') {
      hi = (unsigned char)p[2];
      p += 3;
    } else {
      ++p;
    }
    if (c >= lo && c <= hi) matched = 1;
    first = 0;
  }
  if (*p != ']') return -1;
  *pat = p + 1;
  return matched != negate;
}

// fnmatch(3) without flags: '*', '?', "[...]" and '\' escapes.
static int glob_match(const char* pat, const char* s) {
  const char* star_pat = NULL;
  const char* star_s = NULL;
  while (*s) {
    if (*pat == '*') {
      while (*pat == '*') ++pat;
      if (!*pat) return 1;
      star_pat = pat;
      star_s = s;
      continue;
    }
    int ok;
    const char* next = pat;
    if (*pat == '?') {
      ok = 1;
      ++next;
    } else if (*pat == '[') {
      ok = match_bracket(&next, (unsigned char)*s);
      if (ok < 0) {
        ok = *s == '[';
        next = pat + 1;
      }
    } else if (*pat == '\\' && pat[1]) {
      ok = pat[1] == *s;
      next = pat + 2;
    } else {
      ok = *pat && *pat == *s;
      next = pat + 1;
    }
    if (ok) {
      pat = next;
      ++s;
    } else if (star_pat) {
      pat = star_pat;
      s = ++star_s;
    } else {
      return 0;
    }
  }
  while (*pat == '*') ++pat;
  return *pat == 0;
}

static int compare_names(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}

// The names in dir, without "." and "..", sorted; NULL when it cannot be
// read (an error line is printed).
static char** list(const char* path, const char* rel, size_t* count) {
  DIR* d = opendir(path);
  if (!d) {
    printf("error %s: cannot open directory\n", *rel ? rel : ".");
    ++total.errors;
    return NULL;
  }
  size_t cap = 16, n = 0;
  char** names = xmalloc(cap * sizeof *names);
  struct dirent* e;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (n == cap) {
      cap *= 2;
      char** grown = realloc(names, cap * sizeof *names);
      if (!grown) {
        fprintf(stderr, "walk: out of memory\n");
        exit(2);
      }
      names = grown;
    }
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, compare_names);
  *count = n;
  return names;
}

static int selected(const char* name, char type) {
  if (opt.type && opt.type != type) return 0;
  if (opt.name_glob && !glob_match(opt.name_glob, name)) return 0;
  return 1;
}

// Visits the directory at host path `path` (`rel` beneath ROOT) and returns
// the bytes of regular files beneath it.
static uint64_t walk(const char* path, const char* rel, int depth) {
  size_t n;
  char** names = list(path, rel, &n);
  if (!names) return 0;
  uint64_t bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    char* child = join(path, names[i]);
    char* child_rel = *rel ? join(rel, names[i]) : strdup(names[i]);
    struct stat st;
    if (lstat(child, &st) != 0) {
      printf("error %s: cannot stat\n", child_rel);
      ++total.errors;
    } else if (S_ISDIR(st.st_mode)) {
      ++total.dirs;
      if (selected(names[i], 'd')) printf("d - %s\n", child_rel);
      if (opt.max_depth < 0 || depth < opt.max_depth) bytes += walk(child, child_rel, depth + 1);
    } else if (S_ISLNK(st.st_mode)) {
      ++total.links;
      char target[4096];
      ssize_t len = readlink(child, target, sizeof target - 1);
      target[len < 0 ? 0 : len] = 0;
      if (selected(names[i], 'l')) printf("l - %s -> %s\n", child_rel, target);
    } else if (S_ISREG(st.st_mode)) {
      ++total.files;
      bytes += (uint64_t)st.st_size;
      if (selected(names[i], 'f')) printf("f %lld %s\n", (long long)st.st_size, child_rel);
    } else {
      ++total.others;
      if (selected(names[i], 'o')) printf("o - %s\n", child_rel);
    }
    free(child);
    free(child_rel);
    free(names[i]);
  }
  free(names);
  if (opt.du) printf("du %llu %s\n", (unsigned long long)bytes, *rel ? rel : ".");
  return bytes;
}

static int usage(void) {
  fprintf(stderr, "usage: walk [-name GLOB] [-type f|d|l] [-maxdepth N] [-du] ROOT\n");
  return 2;
}

int main(int argc, char** argv) {
  const char* root = NULL;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "-name") == 0 && i + 1 < argc) {
      opt.name_glob = argv[++i];
    } else if (strcmp(argv[i], "-type") == 0 && i + 1 < argc) {
      opt.type = argv[++i][0];
      if (!strchr("fdl", opt.type) || argv[i][1]) return usage();
    } else if (strcmp(argv[i], "-maxdepth") == 0 && i + 1 < argc) {
      char* end;
      long v = strtol(argv[++i], &end, 10);
      if (*end || v < 0) return usage();
      opt.max_depth = (int)v;
    } else if (strcmp(argv[i], "-du") == 0) {
      opt.du = 1;
    } else if (argv[i][0] == '-' || root) {
      return usage();
    } else {
      root = argv[i];
    }
  }
  if (!root) return usage();
  struct stat st;
  if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
    fprintf(stderr, "walk: %s: not a directory\n", root);
    return 1;
  }
  uint64_t bytes = walk(root, "", 1);
  printf("files %llu dirs %llu links %llu bytes %llu\n", (unsigned long long)total.files,
         (unsigned long long)total.dirs, (unsigned long long)total.links,
         (unsigned long long)bytes);
  return total.errors ? 1 : 0;
}
