// How the store frames each value it keeps under a key (job records, log
// chunks, output files), so that damage is caught when the value is read
// rather than trusted: a 4-byte mark, then the XXH3-64 of the key and the
// payload, then the payload.
//
//   0      4                    12
//   | C5 's' 'r' 01 | XXH3-64, little-endian | payload ... |
//
// The hash is seeded with the XXH3-64 of the key, so a value read under
// another key than the one it was written under (a damaged key, a page
// that moved) fails the check too. Blobs are not framed: their key is the
// SHA-256 of their bytes, which is checked instead (store.h).
//
// Records written before this frame existed (stores of format 3 and older)
// have no mark; a store upgraded from such a format reads them as they are
// (`legacy` below), and gives each a frame when it is written again.
//
// Pure functions: any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace shoal::broker::record {

inline constexpr size_t kHeader = 12;

// Writes the frame of `payload` under `key` into out[0, kHeader).
void write_header(char* out, std::string_view key, std::string_view payload);

// The frame and the payload, as one string.
std::string seal(std::string_view key, std::string_view payload);

struct Opened {
  std::string_view payload;
  bool legacy = false;  // had no frame (written before frames existed)
};

// The payload of `stored`, read under `key`. Fails, saying what is wrong
// (a bad mark, a short record, a checksum mismatch), when the frame does not
// hold; a value without a mark is accepted as a legacy record only when
// `legacy_allowed`.
std::expected<Opened, std::string> open(std::string_view key, std::string_view stored,
                                        bool legacy_allowed);

}  // namespace shoal::broker::record
