/* zlib over a file: writes MIB MiB of generated, compressible text to
 * DIR/plain, compresses it with gzwrite to DIR/plain.gz (level 6, 64 KiB
 * writes), reads it back with gzread and checks it byte for byte, then
 * prints sizes and CRC-32s.
 *
 *   zlib_bench DIR [MIB]
 *
 * MIB defaults to 32. The output depends only on MIB. */
#include "zlib.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 65536

static unsigned rng = 2463534242u;
static unsigned next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

static void fill(unsigned char *buf, size_t n) {
  static const char *words[] = {"shoal ", "wasm ", "batch ", "job ", "worker ",
                                "broker ", "queue ", "output ", "the ",
                                "of ",    "and ",  "42 ",    "\n"};
  size_t i = 0;
  while (i < n) {
    const char *w = words[next() % 13];
    for (size_t k = 0; w[k] && i < n; k++)
      buf[i++] = (unsigned char)w[k];
    if (next() % 5 == 0 && i < n)
      buf[i++] = (unsigned char)('a' + next() % 26);
  }
}

static void fail(const char *what, const char *path) {
  perror(path);
  fprintf(stderr, "zlib_bench: %s failed\n", what);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: zlib_bench DIR [MIB]\n");
    return 2;
  }
  const long mib = argc > 2 ? atol(argv[2]) : 32;
  char plain[4096], packed[4096];
  snprintf(plain, sizeof plain, "%s/plain", argv[1]);
  snprintf(packed, sizeof packed, "%s/plain.gz", argv[1]);
  unsigned char *buf = malloc(CHUNK), *back = malloc(CHUNK);
  FILE *f = fopen(plain, "wb");
  gzFile gz = gzopen(packed, "wb6");
  if (!f || !gz || !buf || !back)
    fail("open for writing", plain);
  uLong crc = crc32(0, Z_NULL, 0);
  for (long i = 0; i < mib * 1048576 / CHUNK; i++) {
    fill(buf, CHUNK);
    crc = crc32(crc, buf, CHUNK);
    if (fwrite(buf, 1, CHUNK, f) != CHUNK)
      fail("fwrite", plain);
    if (gzwrite(gz, buf, CHUNK) != CHUNK)
      fail("gzwrite", packed);
  }
  if (fclose(f) != 0 || gzclose(gz) != Z_OK)
    fail("close", packed);
  f = fopen(plain, "rb");
  gz = gzopen(packed, "rb");
  if (!f || !gz)
    fail("open for reading", packed);
  uLong crc_back = crc32(0, Z_NULL, 0);
  long total = 0;
  for (;;) {
    int n = gzread(gz, back, CHUNK);
    if (n < 0)
      fail("gzread", packed);
    if (n == 0)
      break;
    if (fread(buf, 1, (size_t)n, f) != (size_t)n || memcmp(buf, back, (size_t)n))
      fail("compare", plain);
    crc_back = crc32(crc_back, back, (unsigned)n);
    total += n;
  }
  gzclose(gz);
  fclose(f);
  FILE *p = fopen(packed, "rb");
  if (!p || fseek(p, 0, SEEK_END) != 0)
    fail("size", packed);
  long packed_size = ftell(p);
  fclose(p);
  printf("plain %ld bytes crc32 %08lx\n", mib * 1048576, crc);
  printf("gzip  %ld bytes (%.2f%%)\n", packed_size,
         100.0 * (double)packed_size / (double)(mib * 1048576));
  printf("back  %ld bytes crc32 %08lx %s\n", total, crc_back,
         crc == crc_back && total == mib * 1048576 ? "ok" : "MISMATCH");
  return crc == crc_back ? 0 : 1;
}
