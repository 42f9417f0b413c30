// Compiled WebAssembly code kept across processes: an LMDB environment
// (STATE/cache/code by default) that maps a key (the module's hash, its
// memory limit, V8's version and flags) to V8's serialized native module.
// The broker's workers and `shoal exec` share it; LMDB serialises writers
// across processes, and readers never wait.
//
// An entry says whether its code is complete (every function compiled by
// TurboFan) or partial (some functions compile on first call). Each entry
// carries a checksum (XXH3) of its bytes: an entry that does not
// match it is reported as corrupt, and the caller removes it and compiles
// from scratch. V8 itself refuses code from another V8 version, other flags
// or another CPU; the key names the version and flags so that such entries
// are not looked up at all.
//
// The environment has a fixed size (max_bytes). When a new entry does not
// fit, the cache is emptied and the write retried once; code larger than
// the whole cache is not stored (put() says so). A cache is only ever an
// optimisation: every failure leaves the caller able to compile.
//
// Not thread-safe: one thread at a time uses a CodeCache.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string>
#include <string_view>

typedef struct MDB_env MDB_env;
typedef struct MDB_txn MDB_txn;

namespace shoal::worker {

class CodeCache {
 public:
  static constexpr uint64_t kDefaultMaxBytes = 1ull << 30;

  // Opens (creating when needed) the cache in `dir`. Fails with a message
  // naming the directory and the cause.
  static std::expected<std::unique_ptr<CodeCache>, std::string> open(
      const std::string& dir, uint64_t max_bytes = kDefaultMaxBytes);
  ~CodeCache();
  CodeCache(const CodeCache&) = delete;
  CodeCache& operator=(const CodeCache&) = delete;

  // An entry found by find(): its bytes stay mapped (no copy) for as long as
  // the Entry lives, which holds a read transaction. Destroy it before the
  // next put() or remove() on the same thread.
  class Entry {
   public:
    Entry(Entry&& other) noexcept;
    Entry& operator=(Entry&&) = delete;
    ~Entry();
    std::span<const uint8_t> bytes() const { return bytes_; }
    bool complete() const { return complete_; }

   private:
    friend class CodeCache;
    Entry(MDB_txn* txn, std::span<const uint8_t> bytes, bool complete)
        : txn_(txn), bytes_(bytes), complete_(complete) {}
    MDB_txn* txn_;
    std::span<const uint8_t> bytes_;
    bool complete_;
  };

  enum class Miss {
    absent,   // no entry under the key
    corrupt,  // an entry whose checksum does not match: remove() it
    failed,   // LMDB could not be read (error() says why)
  };
  std::expected<Entry, Miss> find(std::string_view key);

  // Stores `code` under `key`, replacing what was there. The message of a
  // failure names the cause ("does not fit", an LMDB error).
  std::expected<void, std::string> put(std::string_view key, std::span<const uint8_t> code,
                                       bool complete = true);
  void remove(std::string_view key);

  // The cause of the last Miss::failed.
  const std::string& error() const { return error_; }
  const std::string& dir() const { return dir_; }

 private:
  CodeCache() = default;
  std::expected<void, std::string> write(std::string_view key, std::span<const uint8_t> code,
                                         bool complete, bool clear_first);

  MDB_env* env_ = nullptr;
  unsigned dbi_ = 0;
  uint64_t max_bytes_ = 0;
  std::string dir_, error_;
};

}  // namespace shoal::worker
