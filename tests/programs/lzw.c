// lzw: compresses (-c) or decompresses (-d) stdin to stdout with LZW.
//
// Format: the magic bytes "LZW1", then codes packed least significant bit
// first, each `width` bits wide. Codes 0-255 are bytes, 256 clears the
// dictionary, 257 ends the stream, and 258 up are dictionary entries. The
// width starts at 9 bits and grows by one whenever the next code to be
// assigned no longer fits, up to 16 bits; when the dictionary is full the
// compressor emits a clear code and starts over, so that it adapts to
// input whose statistics change.
//
// -t prints statistics to stderr after compressing.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  kClear = 256,
  kEnd = 257,
  kFirstCode = 258,
  kMinWidth = 9,
  kMaxWidth = 16,
  kMaxCodes = 1 << kMaxWidth,
  kHashSize = 1 << 17,  // a power of two, more than twice kMaxCodes
};

static const unsigned char kMagic[4] = {'L', 'Z', 'W', '1'};

// ---- bit I/O -------------------------------------------------------------

struct bit_writer {
  FILE* out;
  uint32_t buffer;
  int bits;
  uint64_t bytes;
};

static void put_code(struct bit_writer* w, unsigned code, int width) {
  w->buffer |= (uint32_t)code << w->bits;
  w->bits += width;
  while (w->bits >= 8) {
    fputc((int)(w->buffer & 0xff), w->out);
    w->buffer >>= 8;
    w->bits -= 8;
    ++w->bytes;
  }
}

static void flush_bits(struct bit_writer* w) {
  if (w->bits > 0) {
    fputc((int)(w->buffer & 0xff), w->out);
    ++w->bytes;
  }
  w->buffer = 0;
  w->bits = 0;
}

struct bit_reader {
  FILE* in;
  uint32_t buffer;
  int bits;
};

// The next code, or -1 at the end of the input.
static int get_code(struct bit_reader* r, int width) {
  while (r->bits < width) {
    int c = fgetc(r->in);
    if (c == EOF) return -1;
    r->buffer |= (uint32_t)c << r->bits;
    r->bits += 8;
  }
  int code = (int)(r->buffer & ((1u << width) - 1));
  r->buffer >>= width;
  r->bits -= width;
  return code;
}

// ---- compression ---------------------------------------------------------

// The dictionary as an open-addressing hash from (prefix code, byte) to the
// code of that string.
struct dictionary {
  int32_t key[kHashSize];  // prefix << 8 | byte, or -1 for an empty slot
  uint16_t code[kHashSize];
  unsigned next_code;
};

static void dictionary_clear(struct dictionary* d) {
  memset(d->key, 0xff, sizeof d->key);
  d->next_code = kFirstCode;
}

static uint32_t slot_of(int32_t key) {
  uint32_t h = (uint32_t)key * 2654435761u;  // Knuth's multiplicative hash
  return h >> (32 - 17);
}

// The slot holding key, or the empty slot where it would go.
static uint32_t find_slot(const struct dictionary* d, int32_t key) {
  uint32_t s = slot_of(key);
  while (d->key[s] != -1 && d->key[s] != key) s = (s + 1) & (kHashSize - 1);
  return s;
}

static int width_for(unsigned next_code) {
  int width = kMinWidth;
  while (width < kMaxWidth && next_code >= (1u << width)) ++width;
  return width;
}

static int compress(FILE* in, FILE* out, int stats) {
  static struct dictionary d;
  dictionary_clear(&d);
  fwrite(kMagic, 1, sizeof kMagic, out);
  struct bit_writer w = {out, 0, 0, sizeof kMagic};
  uint64_t read = 0, clears = 0, codes = 0;
  int c = fgetc(in);
  if (c != EOF) {
    ++read;
    unsigned prefix = (unsigned)c;
    while ((c = fgetc(in)) != EOF) {
      ++read;
      int32_t key = (int32_t)(prefix << 8 | (unsigned)c);
      uint32_t s = find_slot(&d, key);
      if (d.key[s] == key) {
        prefix = d.code[s];
        continue;
      }
      put_code(&w, prefix, width_for(d.next_code));
      ++codes;
      if (d.next_code < kMaxCodes) {
        d.key[s] = key;
        d.code[s] = (uint16_t)d.next_code++;
      } else {
        put_code(&w, kClear, kMaxWidth);
        dictionary_clear(&d);
        ++clears;
      }
      prefix = (unsigned)c;
    }
    put_code(&w, prefix, width_for(d.next_code));
    ++codes;
  }
  // The reader, one entry behind, reads what follows a code at the width
  // that counts the entry it is about to add.
  unsigned pending = codes > 0 && d.next_code < kMaxCodes ? 1 : 0;
  put_code(&w, kEnd, width_for(d.next_code + pending));
  flush_bits(&w);
  if (stats)
    fprintf(stderr, "lzw: %llu bytes in, %llu bytes out, %llu codes, %llu clears\n",
            (unsigned long long)read, (unsigned long long)w.bytes, (unsigned long long)codes,
            (unsigned long long)clears);
  return ferror(out) ? 1 : 0;
}

// ---- decompression -------------------------------------------------------

struct table {
  uint16_t prefix[kMaxCodes];
  unsigned char suffix[kMaxCodes];
  unsigned char first[kMaxCodes];  // the first byte of each code's string
  unsigned next_code;
};

// Writes the string of `code` (a known code) to out; returns its length.
static size_t emit(const struct table* t, unsigned code, FILE* out) {
  static unsigned char stack[kMaxCodes];
  size_t n = 0;
  while (code >= 256) {
    stack[n++] = t->suffix[code];
    code = t->prefix[code];
  }
  stack[n++] = (unsigned char)code;
  for (size_t i = n; i > 0; --i) fputc(stack[i - 1], out);
  return n;
}

static int corrupt(const char* why) {
  fprintf(stderr, "lzw: corrupt input: %s\n", why);
  return 1;
}

static int decompress(FILE* in, FILE* out) {
  unsigned char magic[4];
  if (fread(magic, 1, 4, in) != 4 || memcmp(magic, kMagic, 4) != 0)
    return corrupt("no LZW1 header");
  static struct table t;
  for (unsigned i = 0; i < 256; ++i) t.first[i] = (unsigned char)i;
  struct bit_reader r = {in, 0, 0};
  for (;;) {  // one dictionary generation per pass
    t.next_code = kFirstCode;
    int code = get_code(&r, width_for(t.next_code));
    if (code == kEnd) return 0;
    if (code == kClear) continue;
    if (code < 0) return corrupt("truncated");
    if (code >= 256) return corrupt("first code is not a byte");
    emit(&t, (unsigned)code, out);
    unsigned previous = (unsigned)code;
    for (;;) {
      // The compressor adds an entry after each code except the last, so
      // the reader is one entry behind: the width counts the entry about to
      // be added.
      int width = width_for(t.next_code + (t.next_code < kMaxCodes ? 1 : 0));
      code = get_code(&r, width);
      if (code < 0) return corrupt("truncated");
      if (code == kEnd) return ferror(out) ? 1 : 0;
      if (code == kClear) break;
      unsigned first;
      if ((unsigned)code < t.next_code && code != kClear && code != kEnd) {
        first = t.first[code];
      } else if ((unsigned)code == t.next_code) {
        first = t.first[previous];  // the cScSc case: the string being defined
      } else {
        return corrupt("code out of range");
      }
      if (t.next_code < kMaxCodes) {
        t.prefix[t.next_code] = (uint16_t)previous;
        t.suffix[t.next_code] = (unsigned char)first;
        t.first[t.next_code] = t.first[previous];
        ++t.next_code;
      }
      emit(&t, (unsigned)code, out);
      previous = (unsigned)code;
    }
  }
}

int main(int argc, char** argv) {
  int stats = argc == 3 && strcmp(argv[2], "-t") == 0;
  if ((argc != 2 && !stats) || (strcmp(argv[1], "-c") != 0 && strcmp(argv[1], "-d") != 0)) {
    fprintf(stderr, "usage: lzw -c [-t] | lzw -d   (stdin to stdout)\n");
    return 2;
  }
  return argv[1][1] == 'c' ? compress(stdin, stdout, stats) : decompress(stdin, stdout);
}
