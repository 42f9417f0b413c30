// The SHA-256 of module files, remembered by the file's identity, so that
// running a large module again does not read and hash all of it (the
// broker needs only the hash when it has the module).
//
// An entry is trusted only while the file's device, inode, size, mtime and
// ctime (nanoseconds) are those recorded. ctime cannot be set back by
// anyone, so a file rewritten in place, even to the same size and with its
// mtime restored, is hashed again. A file changed less than kSettle before
// it is hashed is not remembered: file times come from a clock that ticks
// every few milliseconds, and a change in the same tick would leave them
// as they were. Any doubt (no entry, a damaged one) means hashing again;
// entries that cannot be written are skipped.
//
// A wrong entry would run another module, so the broker still checks the
// hash against the bytes whenever they are sent.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cli/file_bytes.h"

namespace shoal::cli {

class ModuleHashCache {
 public:
  static constexpr std::chrono::milliseconds kSettle{100};
  // Files of at least this size are worth remembering; smaller ones hash
  // faster than an entry is read.
  static constexpr uint64_t kMinSize = uint64_t{1} << 20;

  // Entries live in `dir` (made when first needed).
  explicit ModuleHashCache(std::string dir) : dir_(std::move(dir)) {}

  std::optional<std::string> lookup(const FileIdentity& file) const;
  // Records `sha256` for the file, unless it changed within kSettle of now.
  void remember(const FileIdentity& file, const std::string& sha256) const;

 private:
  std::string entry_path(const FileIdentity& file) const;
  std::string dir_;
};

}  // namespace shoal::cli
