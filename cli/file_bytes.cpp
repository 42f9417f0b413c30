#include "cli/file_bytes.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace shoal::cli {
namespace {

std::string failure(const std::string& path) {
  return path + ": " + std::strerror(errno);
}

}  // namespace

std::expected<FileBytes, std::string> FileBytes::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(failure(path));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::unexpected(failure(path));
  if (S_ISDIR(st.st_mode)) return std::unexpected(path + ": is a directory");
  FileBytes out;
  if (S_ISREG(st.st_mode) && st.st_size > 0) {
    void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      out.map_ = p;
      out.size_ = static_cast<size_t>(st.st_size);
      out.identity_ = FileIdentity::of(st);
      return out;
    }
  }
  // A pipe, a character device, an empty or unmappable file: read it.
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected(failure(path));
    if (n == 0) break;
    out.held_.append(buf, static_cast<size_t>(n));
  }
  return out;
}

namespace {
int64_t ns_of(const struct timespec& t) {
  return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}
}  // namespace

FileIdentity FileIdentity::of(const struct stat& st) {
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
          static_cast<uint64_t>(st.st_size), ns_of(st.st_mtim), ns_of(st.st_ctim)};
}

void FileBytes::prefault() const {
#ifdef MADV_POPULATE_READ
  // Older kernels refuse it (EINVAL): the pages then fault in as read.
  if (map_) (void)::madvise(map_, size_, MADV_POPULATE_READ);
#endif
}

FileBytes FileBytes::hold(std::string bytes) {
  FileBytes out;
  out.held_ = std::move(bytes);
  return out;
}

FileBytes::FileBytes(FileBytes&& other) noexcept
    : held_(std::move(other.held_)),
      map_(std::exchange(other.map_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      identity_(std::exchange(other.identity_, std::nullopt)) {}

FileBytes& FileBytes::operator=(FileBytes&& other) noexcept {
  if (this != &other) {
    release();
    held_ = std::move(other.held_);
    map_ = std::exchange(other.map_, nullptr);
    size_ = std::exchange(other.size_, 0);
    identity_ = std::exchange(other.identity_, std::nullopt);
  }
  return *this;
}

FileBytes::~FileBytes() {
  release();
}

void FileBytes::release() {
  if (map_) ::munmap(map_, size_);
  map_ = nullptr;
  size_ = 0;
  identity_.reset();
}

std::string_view FileBytes::view() const {
  if (map_) return {static_cast<const char*>(map_), size_};
  return held_;
}

}  // namespace shoal::cli
