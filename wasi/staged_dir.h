// A private host directory that holds the files of single-file mounts, so
// that they can be preopened as a directory (WASI preopens only directories).
//
// Each file is hard-linked in, which is instant and shows the guest the
// host's file itself; when the link is refused (another file system, EXDEV;
// a file we may read but not link, EPERM; a file renamed over between
// lookup and link, ENOENT) it is copied instead, which shows the guest the
// file as it was when the mount was made. The guest only ever
// gets read-only rights on the directory (environment.cpp), so it cannot
// write through the link.
//
// Not thread-safe. The directory and everything in it are removed by the
// destructor; a process killed before then leaves it behind in the scratch
// directory.
#pragma once

#include <expected>
#include <string>

#include "wasi/unique_fd.h"

namespace shoal::wasi {

class StagedDir {
 public:
  // Makes a fresh directory (mode 0700) under `scratch_dir`, or under
  // $TMPDIR (then /tmp) when it is empty. Fails with a message naming the
  // scratch directory and the cause.
  static std::expected<StagedDir, std::string> create(const std::string& scratch_dir);

  StagedDir(StagedDir&& other) noexcept;
  StagedDir& operator=(StagedDir&& other) noexcept;
  StagedDir(const StagedDir&) = delete;
  StagedDir& operator=(const StagedDir&) = delete;
  ~StagedDir();

  // Places the regular file `host_file` (symlinks to it are followed) in the
  // directory as `name`, a single path component not yet used. Fails with a
  // message saying why (the caller names the file).
  std::expected<void, std::string> add(const std::string& host_file, const std::string& name);

  const std::string& path() const { return path_; }

 private:
  StagedDir(std::string path, UniqueFd dir) : path_(std::move(path)), dir_(std::move(dir)) {}
  void remove();

  std::string path_;
  UniqueFd dir_;
};

}  // namespace shoal::wasi
