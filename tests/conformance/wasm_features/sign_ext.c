// Built with -msign-ext: narrowing casts become i32.extend8_s,
// i32.extend16_s and i64.extend32_s. Prints each argument through each cast.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    int64_t v = strtoll(argv[i], NULL, 0);
    printf("%s: %d %d %lld\n", argv[i], (int)(int8_t)v, (int)(int16_t)v, (long long)(int32_t)v);
  }
  return 0;
}
