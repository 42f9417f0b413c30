// Built with -mmultivalue and the experimental multi-value ABI: a function
// returning a small struct returns its fields as several wasm results.
#include <stdio.h>
#include <stdlib.h>

struct divmod {
  long long quotient;
  int remainder;
};

__attribute__((noinline)) static struct divmod divide(long long a, int b) {
  struct divmod r = {a / b, (int)(a % b)};
  return r;
}

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    struct divmod r = divide(atoll(argv[i]), atoi(argv[i + 1]));
    printf("%s / %s = %lld rem %d\n", argv[i], argv[i + 1], r.quotient, r.remainder);
  }
  return 0;
}
