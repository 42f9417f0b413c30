// WebAssembly modules made from others, for tests.
#pragma once

#include <cstddef>
#include <string>

namespace shoal::test {

// `module` with a custom section of `payload` zero bytes appended: larger,
// with other bytes (another SHA-256), and otherwise the same module.
inline std::string padded(std::string module, size_t payload) {
  const std::string name = "pad";
  module.push_back('\0');
  for (size_t v = 1 + name.size() + payload;; v >>= 7) {  // the section's size, LEB128
    module.push_back(static_cast<char>((v & 0x7f) | (v >= 0x80 ? 0x80 : 0)));
    if (v < 0x80) break;
  }
  module.push_back(static_cast<char>(name.size()));
  module += name;
  module.append(payload, '\0');
  return module;
}

}  // namespace shoal::test
