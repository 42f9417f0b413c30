#include "wasi/staged_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

#include "wasi/host_open.h"

namespace shoal::wasi {
namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

// Copies the whole of `from` into the new file `name` in `dir`.
std::expected<void, std::string> copy_file(const std::string& from, int dir,
                                           const std::string& name) {
  // The name may have been swapped for a FIFO or a device since it was
  // planned: such a file is refused, never waited on (host_open.h).
  auto opened = open_host_file(AT_FDCWD, from.c_str(), O_RDONLY | O_CLOEXEC);
  if (!opened)
    return std::unexpected(opened.error() == ENXIO ? "not a directory or a regular file"
                                                   : errno_text(opened.error()));
  UniqueFd in = std::move(*opened);
  UniqueFd out(::openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400));
  if (!out.valid()) return std::unexpected("cannot copy: " + errno_text(errno));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected(errno_text(errno));
    if (n == 0) return {};
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out.get(), buf + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return std::unexpected("cannot copy: " + errno_text(errno));
      done += w;
    }
  }
}

}  // namespace

std::expected<StagedDir, std::string> StagedDir::create(const std::string& scratch_dir) {
  std::string parent = scratch_dir;
  if (parent.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    parent = tmp && *tmp ? tmp : "/tmp";
  }
  std::string tmpl = parent + "/shoal-files-XXXXXX";
  if (!::mkdtemp(tmpl.data()))
    return std::unexpected("scratch directory " + parent + ": " + errno_text(errno));
  UniqueFd dir(::open(tmpl.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    int err = errno;
    ::rmdir(tmpl.c_str());
    return std::unexpected("scratch directory " + tmpl + ": " + errno_text(err));
  }
  return StagedDir(std::move(tmpl), std::move(dir));
}

StagedDir::StagedDir(StagedDir&& other) noexcept
    : path_(std::exchange(other.path_, {})), dir_(std::move(other.dir_)) {}

StagedDir& StagedDir::operator=(StagedDir&& other) noexcept {
  if (this != &other) {
    remove();
    path_ = std::exchange(other.path_, {});
    dir_ = std::move(other.dir_);
  }
  return *this;
}

StagedDir::~StagedDir() {
  remove();
}

void StagedDir::remove() {
  if (path_.empty()) return;
  dir_.reset();
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  path_.clear();
}

std::expected<void, std::string> StagedDir::add(const std::string& host_file,
                                                const std::string& name) {
  // AT_SYMLINK_FOLLOW: a symlink given as the mount is linked as its target;
  // the link itself would point the guest at a path it may not follow.
  if (::linkat(AT_FDCWD, host_file.c_str(), dir_.get(), name.c_str(), AT_SYMLINK_FOLLOW) == 0)
    return {};
  if (errno == ENOTDIR || errno == EACCES || errno == ELOOP)
    return std::unexpected(errno_text(errno));
  // Everything else is copied instead, ENOENT included: linkat also fails
  // with it when the file found by name is renamed over (its last link
  // gone) before the link is made, while the name itself never stopped
  // existing. The copy opens the name again, so a file that really is
  // missing still fails, with the same message.
  return copy_file(host_file, dir_.get(), name);
}

}  // namespace shoal::wasi
