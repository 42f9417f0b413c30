#include "broker/record.h"

#include <xxhash.h>

#include <cstring>

namespace shoal::broker::record {
namespace {

constexpr char kMark[4] = {'\xc5', 's', 'r', '\x01'};

uint64_t checksum(std::string_view key, std::string_view payload) {
  return XXH3_64bits_withSeed(payload.data(), payload.size(), XXH3_64bits(key.data(), key.size()));
}

}  // namespace

void write_header(char* out, std::string_view key, std::string_view payload) {
  std::memcpy(out, kMark, sizeof kMark);
  uint64_t sum = checksum(key, payload);
  for (int i = 0; i < 8; ++i) out[4 + i] = static_cast<char>((sum >> (8 * i)) & 0xff);
}

std::string seal(std::string_view key, std::string_view payload) {
  std::string out(kHeader + payload.size(), '\0');
  write_header(out.data(), key, payload);
  std::memcpy(out.data() + kHeader, payload.data(), payload.size());
  return out;
}

std::expected<Opened, std::string> open(std::string_view key, std::string_view stored,
                                        bool legacy_allowed) {
  if (stored.size() < sizeof kMark || std::memcmp(stored.data(), kMark, sizeof kMark) != 0) {
    if (legacy_allowed) return Opened{stored, true};
    return std::unexpected(std::string("no record header (the bytes were overwritten)"));
  }
  if (stored.size() < kHeader)
    return std::unexpected("a record of " + std::to_string(stored.size()) +
                           " bytes, shorter than its header");
  uint64_t sum = 0;
  for (int i = 7; i >= 0; --i) sum = (sum << 8) | static_cast<uint8_t>(stored[4 + i]);
  std::string_view payload = stored.substr(kHeader);
  if (checksum(key, payload) != sum)
    return std::unexpected(
        std::string("checksum mismatch (the bytes changed after they were written)"));
  return Opened{payload, false};
}

}  // namespace shoal::broker::record
