// SHA-256 as shoal names things by content: modules and other blobs in the
// store, the URL cache's files, the code cache's keys.
#pragma once

#include <string>
#include <string_view>

namespace shoal {

// The SHA-256 of `bytes` in 64 lowercase hexadecimal digits.
std::string sha256_hex(std::string_view bytes);

}  // namespace shoal
