// Counts the words of one text file: the map step of the wordcount example.
//
//   wordcount [INPUT] [OUTPUT]
//
// INPUT defaults to /inputs/text.txt, OUTPUT to /outputs/counts.txt. A word
// is a run of ASCII letters and digits, lower-cased. OUTPUT gets one line
// "WORD COUNT" per distinct word, sorted by word (byte order); stdout gets a
// one-line summary.
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}

int main(int argc, char** argv) {
  const char* input = argc > 1 ? argv[1] : "/inputs/text.txt";
  const char* output = argc > 2 ? argv[2] : "/outputs/counts.txt";
  FILE* in = fopen(input, "r");
  if (!in) {
    fprintf(stderr, "wordcount: %s: %s\n", input, strerror(errno));
    return 1;
  }
  char** words = NULL;
  size_t count = 0, capacity = 0;
  char word[256];
  size_t len = 0;
  for (int c = fgetc(in);; c = fgetc(in)) {
    if (c != EOF && isalnum(c)) {
      if (len + 1 < sizeof word) word[len++] = (char)tolower(c);
      continue;
    }
    if (len > 0) {
      word[len] = '\0';
      len = 0;
      if (count == capacity) {
        capacity = capacity ? capacity * 2 : 1024;
        words = realloc(words, capacity * sizeof *words);
        if (!words) {
          fprintf(stderr, "wordcount: out of memory\n");
          return 1;
        }
      }
      words[count++] = strdup(word);
    }
    if (c == EOF) break;
  }
  fclose(in);
  qsort(words, count, sizeof *words, compare);

  FILE* out = fopen(output, "w");
  if (!out) {
    fprintf(stderr, "wordcount: %s: %s\n", output, strerror(errno));
    return 1;
  }
  size_t distinct = 0;
  for (size_t i = 0; i < count;) {
    size_t j = i;
    while (j < count && strcmp(words[j], words[i]) == 0) ++j;
    fprintf(out, "%s %zu\n", words[i], j - i);
    ++distinct;
    i = j;
  }
  if (fclose(out) != 0) {
    fprintf(stderr, "wordcount: %s: %s\n", output, strerror(errno));
    return 1;
  }
  printf("%s: %zu words, %zu distinct\n", input, count, distinct);
  return 0;
}
