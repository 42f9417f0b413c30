// A file's bytes without copying them: a regular file is mapped read-only
// into memory, anything else (a pipe, /dev/stdin) is read. A 30 MB module
// that the broker already has is then at most hashed, never copied.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace shoal::cli {

// What identifies a file's content without reading it (module_hash_cache.h).
struct FileIdentity {
  uint64_t device = 0, inode = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  static FileIdentity of(const struct stat& st);
  bool operator==(const FileIdentity&) const = default;
};

class FileBytes {
 public:
  // "PATH: REASON" when the file cannot be opened or read, or is a
  // directory.
  static std::expected<FileBytes, std::string> open(const std::string& path);
  // Bytes already in memory (a download, an inline module).
  static FileBytes hold(std::string bytes);

  FileBytes(FileBytes&& other) noexcept;
  FileBytes& operator=(FileBytes&& other) noexcept;
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  ~FileBytes();

  // Valid while this object lives. A mapped file that another program
  // rewrites meanwhile shows the change, as a read a little later would
  // have; one truncated under it (`cp` over it in the same instant) would
  // end the command with SIGBUS. Compilers and linkers write a new file and
  // rename it over the old, which leaves the mapping alone.
  std::string_view view() const;
  // A mapped regular file's identity when it was opened; none for bytes
  // that were read or held.
  const std::optional<FileIdentity>& identity() const { return identity_; }
  // Maps every page in at once, before the bytes are read end to end (as
  // hashing does). Otherwise pages are mapped as they are touched, and a
  // module whose hash is known and that the broker has costs nothing.
  void prefault() const;

 private:
  FileBytes() = default;
  void release();

  std::string held_;
  void* map_ = nullptr;
  size_t size_ = 0;
  std::optional<FileIdentity> identity_;
};

}  // namespace shoal::cli
