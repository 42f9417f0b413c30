// kv: a key-value store in one file, driven by commands on stdin.
//
//   put KEY VALUE...   set KEY (VALUE is the rest of the line)
//   get KEY            print its value
//   del KEY            remove it
//   count | stats      how many keys | the file's shape
//   scan [PREFIX]      every key (with PREFIX), in byte order, with its value
//   compact            rewrite the file without dead records
//   sync               flush the file to disk
//
// usage: kv DBFILE < commands
//
// The file is a hash table with chaining, every number little-endian so
// that the same commands give the same bytes on every machine:
//
//   header   "KVDB0001", u32 buckets, u32 0, u64 records, u64 dead bytes,
//            u64 end of file, 24 bytes of zeros              (64 bytes)
//   buckets  u64 offset of the first record of each chain (0: none)
//   records  u64 next, u32 key length, u32 value length, key, value
//
// Records are only ever appended: an update or a delete relinks the chain
// and leaves the old record dead. When the table holds twice as many keys
// as buckets it is rebuilt with four times the buckets, and `compact`
// rebuilds it at the same size; both write DBFILE.tmp and rename it over
// DBFILE, so a crash leaves either the old file or the new one.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { kHeaderSize = 64, kRecordHeader = 16, kInitialBuckets = 16, kMaxLine = 65536 };
static const char kMagic[8] = {'K', 'V', 'D', 'B', '0', '0', '0', '1'};

struct db {
  int fd;
  const char* path;
  uint32_t buckets;
  uint64_t records, dead, end;
};

struct record {
  uint64_t offset, next;
  uint32_t key_len, value_len;
};

static _Noreturn void die(const char* what, const char* path) {
  fprintf(stderr, "kv: %s: %s: %s\n", path, what, strerror(errno));
  exit(2);
}

static void put_u32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | p[i];
  return v;
}
static uint64_t get_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

static void read_at(const struct db* db, void* buf, size_t n, uint64_t at) {
  unsigned char* p = buf;
  while (n > 0) {
    ssize_t r = pread(db->fd, p, n, (off_t)at);
    if (r <= 0) {
      if (r == 0) errno = EIO;
      die("read failed", db->path);
    }
    p += r, n -= (size_t)r, at += (uint64_t)r;
  }
}

static void write_at(const struct db* db, const void* buf, size_t n, uint64_t at) {
  const unsigned char* p = buf;
  while (n > 0) {
    ssize_t w = pwrite(db->fd, p, n, (off_t)at);
    if (w <= 0) die("write failed", db->path);
    p += w, n -= (size_t)w, at += (uint64_t)w;
  }
}

static void write_header(const struct db* db) {
  unsigned char h[kHeaderSize] = {0};
  memcpy(h, kMagic, 8);
  put_u32(h + 8, db->buckets);
  put_u64(h + 16, db->records);
  put_u64(h + 24, db->dead);
  put_u64(h + 32, db->end);
  write_at(db, h, sizeof h, 0);
}

// FNV-1a, 64 bits.
static uint64_t hash(const char* key, size_t len) {
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < len; ++i) h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
  return h;
}

static uint64_t bucket_slot(const struct db* db, const char* key, size_t len) {
  return kHeaderSize + 8 * (hash(key, len) % db->buckets);
}

static uint64_t get_link(const struct db* db, uint64_t at) {
  unsigned char b[8];
  read_at(db, b, 8, at);
  return get_u64(b);
}

static void set_link(const struct db* db, uint64_t at, uint64_t value) {
  unsigned char b[8];
  put_u64(b, value);
  write_at(db, b, 8, at);
}

static struct record read_record(const struct db* db, uint64_t offset) {
  unsigned char h[kRecordHeader];
  read_at(db, h, sizeof h, offset);
  struct record r = {offset, get_u64(h), get_u32(h + 8), get_u32(h + 12)};
  return r;
}

// Appends a record and returns its offset.
static uint64_t append(struct db* db, uint64_t next, const char* key, uint32_t key_len,
                       const char* value, uint32_t value_len) {
  unsigned char h[kRecordHeader];
  put_u64(h, next);
  put_u32(h + 8, key_len);
  put_u32(h + 12, value_len);
  uint64_t at = db->end;
  write_at(db, h, sizeof h, at);
  write_at(db, key, key_len, at + kRecordHeader);
  write_at(db, value, value_len, at + kRecordHeader + key_len);
  db->end = at + kRecordHeader + key_len + value_len;
  return at;
}

// Finds key: its record, and the offset of the link pointing at it (a
// bucket or the `next` field of the record before it). Returns 0 if absent.
static int find(const struct db* db, const char* key, uint32_t len, struct record* out,
                uint64_t* link) {
  static char buf[kMaxLine];
  *link = bucket_slot(db, key, len);
  for (uint64_t at = get_link(db, *link); at != 0;) {
    struct record r = read_record(db, at);
    if (r.key_len == len) {
      read_at(db, buf, len, at + kRecordHeader);
      if (memcmp(buf, key, len) == 0) {
        *out = r;
        return 1;
      }
    }
    *link = at;  // `next` is the record's first field
    at = r.next;
  }
  return 0;
}

static void create_empty(struct db* db, uint32_t buckets) {
  db->buckets = buckets;
  db->records = db->dead = 0;
  db->end = kHeaderSize + 8ull * buckets;
  if (ftruncate(db->fd, 0) != 0) die("truncate failed", db->path);
  unsigned char* zeros = calloc(buckets, 8);
  if (!zeros) die("out of memory", db->path);
  write_at(db, zeros, 8ull * buckets, kHeaderSize);
  free(zeros);
  write_header(db);
}

static void open_db(struct db* db, const char* path) {
  db->path = path;
  db->fd = open(path, O_RDWR | O_CREAT, 0644);
  if (db->fd < 0) die("cannot open", path);
  off_t size = lseek(db->fd, 0, SEEK_END);
  if (size == 0) {
    create_empty(db, kInitialBuckets);
    return;
  }
  unsigned char h[kHeaderSize];
  read_at(db, h, sizeof h, 0);
  if (memcmp(h, kMagic, 8) != 0) {
    errno = EINVAL;
    die("not a kv file", path);
  }
  db->buckets = get_u32(h + 8);
  db->records = get_u64(h + 16);
  db->dead = get_u64(h + 24);
  db->end = get_u64(h + 32);
}

// Copies every live record into a new file of `buckets` buckets, then
// renames it over the old one.
static void rebuild(struct db* db, uint32_t buckets) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", db->path);
  struct db out = {open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0644), tmp, 0, 0, 0, 0};
  if (out.fd < 0) die("cannot create", tmp);
  create_empty(&out, buckets);
  static char key[kMaxLine], value[kMaxLine];
  for (uint32_t b = 0; b < db->buckets; ++b) {
    for (uint64_t at = get_link(db, kHeaderSize + 8ull * b); at != 0;) {
      struct record r = read_record(db, at);
      read_at(db, key, r.key_len, at + kRecordHeader);
      read_at(db, value, r.value_len, at + kRecordHeader + r.key_len);
      uint64_t slot = bucket_slot(&out, key, r.key_len);
      set_link(&out, slot, append(&out, get_link(&out, slot), key, r.key_len, value, r.value_len));
      ++out.records;
      at = r.next;
    }
  }
  write_header(&out);
  if (fsync(out.fd) != 0) die("sync failed", tmp);
  if (rename(tmp, db->path) != 0) die("cannot rename over", db->path);
  close(db->fd);
  out.path = db->path;
  *db = out;
}

static void put(struct db* db, const char* key, uint32_t key_len, const char* value,
                uint32_t value_len) {
  struct record old;
  uint64_t link;
  int found = find(db, key, key_len, &old, &link);
  uint64_t next = found ? old.next : get_link(db, link);
  uint64_t at = append(db, next, key, key_len, value, value_len);
  set_link(db, link, at);
  if (found) {
    db->dead += kRecordHeader + old.key_len + old.value_len;
  } else {
    ++db->records;
  }
  write_header(db);
  printf("put %.*s: %s\n", (int)key_len, key, found ? "updated" : "new");
  if (db->records > 2ull * db->buckets) rebuild(db, db->buckets * 4);
}

struct entry {
  char* key;
  char* value;
};

static int compare_entries(const void* a, const void* b) {
  return strcmp(((const struct entry*)a)->key, ((const struct entry*)b)->key);
}

static void scan(const struct db* db, const char* prefix, size_t prefix_len) {
  struct entry* all = malloc((db->records + 1) * sizeof *all);
  if (!all) die("out of memory", db->path);
  size_t n = 0;
  for (uint32_t b = 0; b < db->buckets; ++b) {
    for (uint64_t at = get_link(db, kHeaderSize + 8ull * b); at != 0;) {
      struct record r = read_record(db, at);
      char* key = malloc(r.key_len + 1);
      char* value = malloc(r.value_len + 1);
      if (!key || !value) die("out of memory", db->path);
      read_at(db, key, r.key_len, at + kRecordHeader);
      read_at(db, value, r.value_len, at + kRecordHeader + r.key_len);
      key[r.key_len] = value[r.value_len] = 0;
      if (r.key_len >= prefix_len && memcmp(key, prefix, prefix_len) == 0 && n < db->records) {
        all[n].key = key;
        all[n++].value = value;
      } else {
        free(key);
        free(value);
      }
      at = r.next;
    }
  }
  // Keys are unique, so any sort gives the same order.
  qsort(all, n, sizeof *all, compare_entries);
  for (size_t i = 0; i < n; ++i) {
    printf("%s=%s\n", all[i].key, all[i].value);
    free(all[i].key);
    free(all[i].value);
  }
  printf("scan: %zu keys\n", n);
  free(all);
}

// The first word of *line (advancing past it and the blanks after it).
static const char* word(char** line, uint32_t* len) {
  char* p = *line;
  while (*p == ' ') ++p;
  char* start = p;
  while (*p && *p != ' ') ++p;
  *len = (uint32_t)(p - start);
  while (*p == ' ') ++p;
  *line = p;
  return start;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: kv DBFILE < commands\n");
    return 2;
  }
  struct db db;
  open_db(&db, argv[1]);
  static char line[kMaxLine];
  static char value[kMaxLine];
  int bad = 0;
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    char* rest = line;
    uint32_t cmd_len, key_len;
    const char* cmd = word(&rest, &cmd_len);
    const char* key = word(&rest, &key_len);
    char* key_end = (char*)key + key_len;
    if (cmd_len == 0) continue;
    if (cmd_len == 3 && memcmp(cmd, "put", 3) == 0 && key_len > 0) {
      put(&db, key, key_len, rest, (uint32_t)strlen(rest));
    } else if (cmd_len == 3 && memcmp(cmd, "get", 3) == 0 && key_len > 0) {
      struct record r;
      uint64_t link;
      if (find(&db, key, key_len, &r, &link)) {
        read_at(&db, value, r.value_len, r.offset + kRecordHeader + r.key_len);
        printf("get %.*s: %.*s\n", (int)key_len, key, (int)r.value_len, value);
      } else {
        printf("get %.*s: (missing)\n", (int)key_len, key);
      }
    } else if (cmd_len == 3 && memcmp(cmd, "del", 3) == 0 && key_len > 0) {
      struct record r;
      uint64_t link;
      int found = find(&db, key, key_len, &r, &link);
      if (found) {
        set_link(&db, link, r.next);
        --db.records;
        db.dead += kRecordHeader + r.key_len + r.value_len;
        write_header(&db);
      }
      printf("del %.*s: %s\n", (int)key_len, key, found ? "deleted" : "not found");
    } else if (cmd_len == 5 && memcmp(cmd, "count", 5) == 0) {
      printf("count: %llu\n", (unsigned long long)db.records);
    } else if (cmd_len == 5 && memcmp(cmd, "stats", 5) == 0) {
      printf("stats: %u buckets, %llu records, %llu dead bytes, %llu bytes\n", db.buckets,
             (unsigned long long)db.records, (unsigned long long)db.dead,
             (unsigned long long)db.end);
    } else if (cmd_len == 4 && memcmp(cmd, "scan", 4) == 0) {
      *key_end = 0;
      scan(&db, key, key_len);
    } else if (cmd_len == 7 && memcmp(cmd, "compact", 7) == 0) {
      rebuild(&db, db.buckets);
      printf("compact: %llu bytes\n", (unsigned long long)db.end);
    } else if (cmd_len == 4 && memcmp(cmd, "sync", 4) == 0) {
      if (fdatasync(db.fd) != 0) die("sync failed", db.path);
      printf("sync: ok\n");
    } else {
      printf("bad command: %s\n", line);
      bad = 1;
    }
  }
  close(db.fd);
  return bad ? 1 : 0;
}
