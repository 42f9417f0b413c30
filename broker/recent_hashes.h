// The SHA-256 of bytes submitted lately, recognised by the bytes
// themselves: a client that sends one module with every submission (each
// `shoal wasm run` does) costs the broker no hashing after the first.
// XXH3 finds a candidate and a comparison of the bytes confirms it, so the
// answer is always the bytes' own SHA-256.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::broker {

class RecentHashes {
 public:
  // Remembers up to `entries` byte strings of at most `max_size` bytes each
  // (larger ones are hashed every time; clients name those by hash).
  explicit RecentHashes(size_t entries = 8, size_t max_size = size_t{1} << 20);

  // sha256_hex(bytes), recalled or computed (and then remembered).
  std::string sha256_of(std::string_view bytes);

  // How many calls were answered from memory (for tests).
  uint64_t recalled() const { return recalled_; }

 private:
  struct Entry {
    uint64_t quick = 0;  // XXH3-64 of the bytes
    std::string bytes;
    std::string sha256;
  };
  size_t entries_;
  size_t max_size_;
  std::vector<Entry> recent_;  // oldest first
  uint64_t recalled_ = 0;
};

}  // namespace shoal::broker
