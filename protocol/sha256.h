// SHA-256 as shoal names things by content: modules and other blobs in the
// store, the URL cache's files, the code cache's keys.
//
// Nettle's implementation (with the CPU's SHA instructions where it has
// them): OpenSSL's libcrypto costs every shoal command a millisecond to load
// and another to initialise (docs/benchmarks.md).
#pragma once

#include <nettle/sha2.h>

#include <string>
#include <string_view>

namespace shoal {

// The SHA-256 of `bytes` in 64 lowercase hexadecimal digits.
std::string sha256_hex(std::string_view bytes);

// The same for bytes that arrive in pieces.
class Sha256 {
 public:
  Sha256();
  void update(std::string_view bytes);
  // The hash of everything added since construction or the last hex(),
  // which starts over.
  std::string hex();

 private:
  sha256_ctx ctx_;
};

}  // namespace shoal
