// sort: sorts lines like sort(1), from the files named or from stdin.
//
//   -r        reverse the order
//   -n        compare the key as a decimal number (sign, digits, fraction),
//             exactly: no conversion to floating point
//   -f        fold lower case to upper case when comparing
//   -u        print only the first of lines whose keys compare equal
//   -s        stable: keep input order for equal keys instead of falling
//             back to comparing whole lines
//   -k N      the key is field N (1-based) to the end of the field
//   -t C      fields are separated by the character C instead of by runs
//             of blanks
//   -o FILE   write to FILE instead of stdout (after reading all input)
//
// The sort is a merge sort of line indices, so its result is the same on
// every libc (qsort is not stable, and its order for equal keys differs).
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct line {
  const char* text;
  size_t len;
  const char* key;  // the key field within text
  size_t key_len;
};

struct options {
  int reverse, numeric, fold, unique, stable;
  int field;      // 0: the whole line
  int separator;  // -1: runs of blanks
};

static struct options opt = {0, 0, 0, 0, 0, 0, -1};

static void* xrealloc(void* p, size_t n) {
  void* q = realloc(p, n ? n : 1);
  if (!q) {
    fprintf(stderr, "sort: out of memory\n");
    exit(2);
  }
  return q;
}

// Reads all of f onto the end of *buf.
static void slurp(FILE* f, char** buf, size_t* len, size_t* cap) {
  for (;;) {
    if (*cap - *len < 65536) {
      *cap = *cap * 2 + 65536;
      *buf = xrealloc(*buf, *cap);
    }
    size_t n = fread(*buf + *len, 1, *cap - *len, f);
    *len += n;
    if (n == 0) break;
  }
}

static int is_blank(int c) {
  return c == ' ' || c == '\t';
}

// Finds field opt.field of the line.
static void find_key(struct line* l) {
  l->key = l->text;
  l->key_len = l->len;
  if (opt.field <= 0) return;
  const char* p = l->text;
  const char* end = l->text + l->len;
  for (int f = 1; f < opt.field; ++f) {
    if (opt.separator >= 0) {
      const char* sep = memchr(p, opt.separator, (size_t)(end - p));
      p = sep ? sep + 1 : end;
    } else {
      while (p < end && is_blank(*p)) ++p;
      while (p < end && !is_blank(*p)) ++p;
    }
  }
  const char* stop;
  if (opt.separator >= 0) {
    stop = memchr(p, opt.separator, (size_t)(end - p));
    if (!stop) stop = end;
  } else {
    const char* q = p;
    while (q < end && is_blank(*q)) ++q;
    while (q < end && !is_blank(*q)) ++q;
    stop = q;
  }
  l->key = p;
  l->key_len = (size_t)(stop - p);
}

// A decimal number in text: its sign, integer digits (without leading
// zeros) and fraction digits (without trailing zeros).
struct number {
  int negative;
  const char* integer;
  size_t integer_len;
  const char* fraction;
  size_t fraction_len;
};

static struct number parse_number(const char* s, size_t len) {
  struct number n = {0, s, 0, s, 0};
  size_t i = 0;
  while (i < len && is_blank(s[i])) ++i;
  if (i < len && (s[i] == '-' || s[i] == '+')) n.negative = s[i++] == '-';
  while (i < len && s[i] == '0') ++i;
  n.integer = s + i;
  while (i < len && isdigit((unsigned char)s[i])) ++i, ++n.integer_len;
  if (i < len && s[i] == '.') {
    ++i;
    n.fraction = s + i;
    while (i < len && isdigit((unsigned char)s[i])) ++i, ++n.fraction_len;
    while (n.fraction_len > 0 && n.fraction[n.fraction_len - 1] == '0') --n.fraction_len;
  }
  // -0 is 0.
  if (n.integer_len == 0 && n.fraction_len == 0) n.negative = 0;
  return n;
}

// Compares magnitudes.
static int compare_magnitude(const struct number* a, const struct number* b) {
  if (a->integer_len != b->integer_len) return a->integer_len < b->integer_len ? -1 : 1;
  int c = memcmp(a->integer, b->integer, a->integer_len);
  if (c) return c < 0 ? -1 : 1;
  size_t common = a->fraction_len < b->fraction_len ? a->fraction_len : b->fraction_len;
  c = memcmp(a->fraction, b->fraction, common);
  if (c) return c < 0 ? -1 : 1;
  if (a->fraction_len != b->fraction_len) return a->fraction_len < b->fraction_len ? -1 : 1;
  return 0;
}

static int compare_numbers(const char* a, size_t alen, const char* b, size_t blen) {
  struct number x = parse_number(a, alen), y = parse_number(b, blen);
  if (x.negative != y.negative) return x.negative ? -1 : 1;
  int c = compare_magnitude(&x, &y);
  return x.negative ? -c : c;
}

static int compare_bytes(const char* a, size_t alen, const char* b, size_t blen, int fold) {
  size_t n = alen < blen ? alen : blen;
  for (size_t i = 0; i < n; ++i) {
    int x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (fold) {
      if (x >= 'a' && x <= 'z') x -= 'a' - 'A';
      if (y >= 'a' && y <= 'z') y -= 'a' - 'A';
    }
    if (x != y) return x < y ? -1 : 1;
  }
  return alen == blen ? 0 : alen < blen ? -1 : 1;
}

static int compare_keys(const struct line* a, const struct line* b) {
  int c = opt.numeric ? compare_numbers(a->key, a->key_len, b->key, b->key_len)
                      : compare_bytes(a->key, a->key_len, b->key, b->key_len, opt.fold);
  return opt.reverse ? -c : c;
}

// The full order: keys, then (unless -s or -u) the whole line as bytes.
static int compare_lines(const struct line* a, const struct line* b) {
  int c = compare_keys(a, b);
  if (c || opt.stable || opt.unique) return c;
  c = compare_bytes(a->text, a->len, b->text, b->len, 0);
  return opt.reverse ? -c : c;
}

// Stable merge sort of idx[0..n) by compare_lines, with tmp as scratch.
static void merge_sort(const struct line* lines, size_t* idx, size_t* tmp, size_t n) {
  if (n < 2) return;
  if (n <= 16) {  // insertion sort: stable and fast for short runs
    for (size_t i = 1; i < n; ++i) {
      size_t v = idx[i], j = i;
      while (j > 0 && compare_lines(&lines[idx[j - 1]], &lines[v]) > 0) {
        idx[j] = idx[j - 1];
        --j;
      }
      idx[j] = v;
    }
    return;
  }
  size_t half = n / 2;
  merge_sort(lines, idx, tmp, half);
  merge_sort(lines, idx + half, tmp, n - half);
  if (compare_lines(&lines[idx[half - 1]], &lines[idx[half]]) <= 0) return;  // already in order
  size_t i = 0, j = half, k = 0;
  while (i < half && j < n)
    tmp[k++] = compare_lines(&lines[idx[j]], &lines[idx[i]]) < 0 ? idx[j++] : idx[i++];
  while (i < half) tmp[k++] = idx[i++];
  while (j < n) tmp[k++] = idx[j++];
  memcpy(idx, tmp, n * sizeof *idx);
}

static int usage(void) {
  fprintf(stderr, "usage: sort [-rnfus] [-k N] [-t C] [-o FILE] [FILE...]\n");
  return 2;
}

int main(int argc, char** argv) {
  const char* output = NULL;
  int first_file = argc;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (a[0] != '-' || a[1] == 0) {
      first_file = i;
      break;
    }
    if (strcmp(a, "--") == 0) {
      first_file = i + 1;
      break;
    }
    // Flags may be grouped ("-rn"); a flag with a value takes the rest of
    // the argument ("-k2") or the next argument ("-k 2").
    for (const char* p = a + 1; *p; ++p) {
      if (strchr("rnfus", *p)) {
        *(*p == 'r'   ? &opt.reverse
          : *p == 'n' ? &opt.numeric
          : *p == 'f' ? &opt.fold
          : *p == 'u' ? &opt.unique
                      : &opt.stable) = 1;
        continue;
      }
      if (!strchr("kto", *p)) return usage();
      const char* value = p[1] ? p + 1 : (i + 1 < argc ? argv[++i] : NULL);
      if (!value) return usage();
      if (*p == 'k') {
        char* end;
        long f = strtol(value, &end, 10);
        if (*end || f < 1) return usage();
        opt.field = (int)f;
      } else if (*p == 't') {
        if (strlen(value) != 1) return usage();
        opt.separator = (unsigned char)value[0];
      } else {
        output = value;
      }
      break;
    }
  }

  char* buf = NULL;
  size_t len = 0, cap = 0;
  if (first_file >= argc) {
    slurp(stdin, &buf, &len, &cap);
  } else {
    for (int i = first_file; i < argc; ++i) {
      FILE* f = strcmp(argv[i], "-") == 0 ? stdin : fopen(argv[i], "rb");
      if (!f) {
        fprintf(stderr, "sort: cannot read: %s: %s\n", argv[i], strerror(errno));
        return 2;
      }
      slurp(f, &buf, &len, &cap);
      // A file without a final newline still ends its last line.
      if (len > 0 && buf[len - 1] != '\n') {
        if (len == cap) buf = xrealloc(buf, cap += 1);
        buf[len++] = '\n';
      }
      if (f != stdin) fclose(f);
    }
  }

  size_t n = 0, lines_cap = 1024;
  struct line* lines = xrealloc(NULL, lines_cap * sizeof *lines);
  for (size_t at = 0; at < len;) {
    const char* nl = memchr(buf + at, '\n', len - at);
    size_t end = nl ? (size_t)(nl - buf) : len;
    if (n == lines_cap) lines = xrealloc(lines, (lines_cap *= 2) * sizeof *lines);
    lines[n].text = buf + at;
    lines[n].len = end - at;
    find_key(&lines[n]);
    ++n;
    at = end + 1;
  }
  size_t* idx = xrealloc(NULL, n * sizeof *idx);
  size_t* tmp = xrealloc(NULL, n * sizeof *tmp);
  for (size_t i = 0; i < n; ++i) idx[i] = i;
  merge_sort(lines, idx, tmp, n);

  FILE* out = output ? fopen(output, "wb") : stdout;
  if (!out) {
    fprintf(stderr, "sort: cannot write: %s: %s\n", output, strerror(errno));
    return 2;
  }
  for (size_t i = 0; i < n; ++i) {
    const struct line* l = &lines[idx[i]];
    if (opt.unique && i > 0 && compare_keys(&lines[idx[i - 1]], l) == 0) continue;
    fwrite(l->text, 1, l->len, out);
    fputc('\n', out);
  }
  if (out != stdout && fclose(out) != 0) return 2;
  free(idx);
  free(tmp);
  free(lines);
  free(buf);
  return 0;
}
