#include "broker/recent_hashes.h"

#include <xxhash.h>

#include <algorithm>

#include "protocol/sha256.h"

namespace shoal::broker {

RecentHashes::RecentHashes(size_t entries, size_t max_size)
    : entries_(entries), max_size_(max_size) {}

std::string RecentHashes::sha256_of(std::string_view bytes) {
  if (bytes.size() > max_size_ || entries_ == 0) return sha256_hex(bytes);
  const uint64_t quick = XXH3_64bits(bytes.data(), bytes.size());
  for (size_t i = 0; i < recent_.size(); ++i) {
    if (recent_[i].quick != quick || recent_[i].bytes != bytes) continue;
    ++recalled_;
    std::string hash = recent_[i].sha256;
    // The newest last: the oldest goes first when room is needed.
    std::rotate(recent_.begin() + static_cast<std::ptrdiff_t>(i),
                recent_.begin() + static_cast<std::ptrdiff_t>(i) + 1, recent_.end());
    return hash;
  }
  std::string hash = sha256_hex(bytes);
  if (recent_.size() >= entries_) recent_.erase(recent_.begin());
  recent_.push_back({quick, std::string(bytes), hash});
  return hash;
}

}  // namespace shoal::broker
