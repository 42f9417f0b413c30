#include "worker/code_cache.h"

#include <lmdb.h>
#include <xxhash.h>

#include <cstring>
#include <filesystem>

namespace shoal::worker {
namespace {

// An entry: this magic, flags (bit 0: complete), the XXH3-64 of the code
// (both little-endian 64-bit), the code.
constexpr char kMagic[8] = {'s', 'h', 'o', 'a', 'l', 'c', 'c', '1'};
constexpr size_t kHeader = 24;
constexpr uint64_t kComplete = 1;

std::string lmdb_error(const std::string& dir, const char* what, int rc) {
  return "code cache " + dir + ": " + what + ": " + mdb_strerror(rc);
}

MDB_val val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

}  // namespace

std::expected<std::unique_ptr<CodeCache>, std::string> CodeCache::open(const std::string& dir,
                                                                       uint64_t max_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return std::unexpected("code cache " + dir + ": cannot create it: " + ec.message());
  std::unique_ptr<CodeCache> cache(new CodeCache());
  cache->dir_ = dir;
  cache->max_bytes_ = max_bytes;
  int rc = mdb_env_create(&cache->env_);
  if (rc != 0) {
    cache->env_ = nullptr;
    return std::unexpected(lmdb_error(dir, "cannot create the environment", rc));
  }
  if ((rc = mdb_env_set_mapsize(cache->env_, max_bytes)) != 0)
    return std::unexpected(lmdb_error(dir, "cannot set its size", rc));
  // NOMETASYNC: a crash may lose the last write, never the integrity of the
  // file; a lost entry is compiled again. NOTLS: an Entry's read transaction
  // is not tied to a thread slot.
  if ((rc = mdb_env_open(cache->env_, dir.c_str(), MDB_NOTLS | MDB_NOMETASYNC, 0600)) != 0)
    return std::unexpected(lmdb_error(dir, "cannot open it", rc));
  MDB_txn* txn;
  if ((rc = mdb_txn_begin(cache->env_, nullptr, 0, &txn)) != 0)
    return std::unexpected(lmdb_error(dir, "cannot begin a transaction", rc));
  MDB_dbi dbi;
  rc = mdb_dbi_open(txn, nullptr, 0, &dbi);
  if (rc == 0)
    rc = mdb_txn_commit(txn);
  else
    mdb_txn_abort(txn);
  if (rc != 0) return std::unexpected(lmdb_error(dir, "cannot open its database", rc));
  cache->dbi_ = dbi;
  return cache;
}

CodeCache::~CodeCache() {
  if (env_) mdb_env_close(env_);
}

CodeCache::Entry::Entry(Entry&& other) noexcept
    : txn_(other.txn_), bytes_(other.bytes_), complete_(other.complete_) {
  other.txn_ = nullptr;
}

CodeCache::Entry::~Entry() {
  if (txn_) mdb_txn_abort(txn_);
}

std::expected<CodeCache::Entry, CodeCache::Miss> CodeCache::find(std::string_view key) {
  MDB_txn* txn;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) {
    error_ = lmdb_error(dir_, "cannot begin a read", rc);
    return std::unexpected(Miss::failed);
  }
  MDB_val k = val(key), v;
  rc = mdb_get(txn, dbi_, &k, &v);
  if (rc != 0) {
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND) return std::unexpected(Miss::absent);
    error_ = lmdb_error(dir_, "cannot read an entry", rc);
    return std::unexpected(Miss::failed);
  }
  const auto* p = static_cast<const uint8_t*>(v.mv_data);
  uint64_t flags = 0, sum = 0;
  if (v.mv_size >= kHeader) {
    std::memcpy(&flags, p + 8, 8);
    std::memcpy(&sum, p + 16, 8);
  }
  if (v.mv_size < kHeader || std::memcmp(p, kMagic, 8) != 0 ||
      XXH3_64bits(p + kHeader, v.mv_size - kHeader) != sum) {
    mdb_txn_abort(txn);
    return std::unexpected(Miss::corrupt);
  }
  return Entry(txn, std::span<const uint8_t>(p + kHeader, v.mv_size - kHeader),
               (flags & kComplete) != 0);
}

std::expected<void, std::string> CodeCache::put(std::string_view key, std::span<const uint8_t> code,
                                                bool complete) {
  auto r = write(key, code, complete, false);
  if (!r && r.error().empty()) r = write(key, code, complete, true);  // full: empty it, once
  if (!r && r.error().empty())
    return std::unexpected("code cache " + dir_ + ": " + std::to_string(code.size()) +
                           " bytes of code do not fit in it (" + std::to_string(max_bytes_ >> 20) +
                           " MiB); this module is compiled on every start");
  return r;
}

// An empty error means MDB_MAP_FULL.
std::expected<void, std::string> CodeCache::write(std::string_view key,
                                                  std::span<const uint8_t> code, bool complete,
                                                  bool clear_first) {
  MDB_txn* txn;
  int rc;
  if (clear_first) {
    // In a transaction of its own: LMDB reuses freed pages only after the
    // transaction that freed them has committed.
    if ((rc = mdb_txn_begin(env_, nullptr, 0, &txn)) != 0)
      return std::unexpected(lmdb_error(dir_, "cannot begin a write", rc));
    if ((rc = mdb_drop(txn, dbi_, 0)) != 0) {
      mdb_txn_abort(txn);
      return std::unexpected(lmdb_error(dir_, "cannot empty it", rc));
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
      return std::unexpected(lmdb_error(dir_, "cannot empty it", rc));
    // LMDB hands the pages a transaction freed only to transactions at least
    // two after it: one more (which changes nothing in the end) in between.
    if ((rc = mdb_txn_begin(env_, nullptr, 0, &txn)) != 0)
      return std::unexpected(lmdb_error(dir_, "cannot begin a write", rc));
    std::string marker = "\x01";
    MDB_val mk = val(marker), mv = val(marker);
    if (mdb_put(txn, dbi_, &mk, &mv, 0) == 0) mdb_del(txn, dbi_, &mk, nullptr);
    if ((rc = mdb_txn_commit(txn)) != 0)
      return std::unexpected(lmdb_error(dir_, "cannot empty it", rc));
  }
  if ((rc = mdb_txn_begin(env_, nullptr, 0, &txn)) != 0)
    return std::unexpected(lmdb_error(dir_, "cannot begin a write", rc));
  MDB_val k = val(key);
  MDB_val v{kHeader + code.size(), nullptr};
  rc = mdb_put(txn, dbi_, &k, &v, MDB_RESERVE);
  if (rc == 0) {
    auto* p = static_cast<uint8_t*>(v.mv_data);
    const uint64_t sum = XXH3_64bits(code.data(), code.size());
    const uint64_t flags = complete ? kComplete : 0;
    std::memcpy(p, kMagic, 8);
    std::memcpy(p + 8, &flags, 8);
    std::memcpy(p + 16, &sum, 8);
    if (!code.empty()) std::memcpy(p + kHeader, code.data(), code.size());
    rc = mdb_txn_commit(txn);
  } else {
    mdb_txn_abort(txn);
  }
  if (rc == MDB_MAP_FULL) return std::unexpected(std::string());
  if (rc != 0) return std::unexpected(lmdb_error(dir_, "cannot store an entry", rc));
  return {};
}

void CodeCache::remove(std::string_view key) {
  MDB_txn* txn;
  if (mdb_txn_begin(env_, nullptr, 0, &txn) != 0) return;
  MDB_val k = val(key);
  if (mdb_del(txn, dbi_, &k, nullptr) == 0)
    mdb_txn_commit(txn);
  else
    mdb_txn_abort(txn);
}

}  // namespace shoal::worker
