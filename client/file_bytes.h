// A file's bytes without copying them: a regular file is mapped read-only
// into memory, anything else (a pipe, /dev/stdin) is read. A 30 MB module
// that the broker already has is then only hashed, never copied.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace shoal::client {

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

 private:
  FileBytes() = default;
  void release();

  std::string held_;
  void* map_ = nullptr;
  size_t size_ = 0;
};

}  // namespace shoal::client
