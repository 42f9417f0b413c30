// Built with -mnontrapping-fptoint: float-to-int conversions saturate
// instead of trapping (i32.trunc_sat_f64_s and friends). Out-of-range and NaN
// inputs use the builtins, which define the result; in-range ones use casts.
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    double d = strtod(argv[i], NULL);
    printf("%s: i32 %d u32 %u i64 %lld", argv[i], __builtin_wasm_trunc_saturate_s_i32_f64(d),
           __builtin_wasm_trunc_saturate_u_i32_f64(d),
           (long long)__builtin_wasm_trunc_saturate_s_i64_f64(d));
    if (d > -1e9 && d < 1e9) printf(" cast %d", (int)d);
    putchar('\n');
  }
  return 0;
}
