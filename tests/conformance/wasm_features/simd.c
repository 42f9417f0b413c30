// Built with -msimd128: explicit 128-bit SIMD through wasm_simd128.h, on
// integers and floats. Prints a dot product, a lane-wise maximum and a sum.
#include <stdio.h>
#include <stdlib.h>
#include <wasm_simd128.h>

#define N 1024

static int a[N], b[N];
static float f[N];

int main(int argc, char** argv) {
  int seed = argc > 1 ? atoi(argv[1]) : 1;
  for (int i = 0; i < N; ++i) {
    a[i] = (i * seed) % 97 - 48;
    b[i] = (i * 7 + seed) % 89 - 44;
    f[i] = (float)(i % 13) * 0.5f;
  }
  v128_t dot = wasm_i32x4_splat(0), max = wasm_i32x4_splat(-1000);
  v128_t fsum = wasm_f32x4_splat(0);
  for (int i = 0; i < N; i += 4) {
    v128_t va = wasm_v128_load(&a[i]), vb = wasm_v128_load(&b[i]);
    dot = wasm_i32x4_add(dot, wasm_i32x4_mul(va, vb));
    max = wasm_i32x4_max(max, wasm_i32x4_sub(va, vb));
    fsum = wasm_f32x4_add(fsum, wasm_v128_load(&f[i]));
  }
  int d = wasm_i32x4_extract_lane(dot, 0) + wasm_i32x4_extract_lane(dot, 1) +
          wasm_i32x4_extract_lane(dot, 2) + wasm_i32x4_extract_lane(dot, 3);
  // Check against the scalar computation.
  int scalar = 0;
  for (int i = 0; i < N; ++i) scalar += a[i] * b[i];
  float s = wasm_f32x4_extract_lane(fsum, 0) + wasm_f32x4_extract_lane(fsum, 1) +
            wasm_f32x4_extract_lane(fsum, 2) + wasm_f32x4_extract_lane(fsum, 3);
  printf("simd: dot %d scalar %d max %d %d %d %d fsum %.1f\n", d, scalar,
         wasm_i32x4_extract_lane(max, 0), wasm_i32x4_extract_lane(max, 1),
         wasm_i32x4_extract_lane(max, 2), wasm_i32x4_extract_lane(max, 3), (double)s);
  return 0;
}
