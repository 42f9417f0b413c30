#include "broker/tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace shoal::tree {

namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

struct Frame {
  DIR* dir;
  std::string prefix;  // "" for the root, else "a/b/"
};

}  // namespace

WalkReport walk(int root_fd, size_t max_path, const std::function<Visit(const Entry&)>& visit) {
  WalkReport report;
  std::vector<Frame> stack;
  auto fail = [&](const std::string& what, int err) {
    if (report.error.empty())
      report.error = (what.empty() ? std::string(".") : what) + ": " + std::strerror(err);
  };
  int fd = ::openat(root_fd, ".", kDirFlags);
  DIR* root = fd < 0 ? nullptr : ::fdopendir(fd);
  if (!root) {
    fail("", errno);
    if (fd >= 0) ::close(fd);
    return report;
  }
  stack.push_back({root, ""});
  while (!stack.empty() && !report.stopped) {
    Frame& top = stack.back();
    errno = 0;
    struct dirent* d = ::readdir(top.dir);
    if (!d) {
      if (errno) fail(top.prefix, errno);
      ::closedir(top.dir);
      stack.pop_back();
      continue;
    }
    if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
    const int dfd = ::dirfd(top.dir);
    struct stat st;
    std::string rel = top.prefix + d->d_name;
    if (::fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      fail(rel, errno);
      continue;
    }
    ++report.entries;
    if (visit(Entry{rel, dfd, d->d_name, st}) == Visit::stop) {
      report.stopped = true;
      break;
    }
    if (!S_ISDIR(st.st_mode)) continue;
    if (rel.size() > max_path) {
      if (report.too_long++ == 0) report.first_too_long = rel;
      continue;
    }
    int child_fd = ::openat(dfd, d->d_name, kDirFlags);
    DIR* child = child_fd < 0 ? nullptr : ::fdopendir(child_fd);
    if (!child) {
      fail(rel, errno);
      if (child_fd >= 0) ::close(child_fd);
      continue;
    }
    rel += '/';
    stack.push_back({child, std::move(rel)});  // `top` is not used after this
  }
  for (auto& f : stack) ::closedir(f.dir);
  return report;
}

namespace {

struct EntryError {
  std::string name;  // empty: the directory itself
  int err;
};

// Unlinks the entries of directory `fd` until it meets a directory: its name
// then, or "" when `fd` is empty now.
std::expected<std::string, EntryError> unlink_until_directory(int fd) {
  DIR* dir = ::fdopendir(::dup(fd));
  if (!dir) return std::unexpected(EntryError{"", errno});
  ::rewinddir(dir);  // the duplicate shares the offset of an earlier listing
  std::expected<std::string, EntryError> found;
  while (struct dirent* d = ::readdir(dir)) {
    if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
    if (::unlinkat(fd, d->d_name, 0) == 0 || errno == ENOENT) continue;
    if (errno == EISDIR || errno == EPERM) {
      struct stat s;
      if (::fstatat(fd, d->d_name, &s, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(s.st_mode)) {
        found = std::string(d->d_name);
        break;
      }
    }
    found = std::unexpected(EntryError{d->d_name, errno});
    break;
  }
  ::closedir(dir);
  return found;
}

}  // namespace

std::expected<void, std::string> remove_all(const std::string& path,
                                            const std::atomic<bool>* cancel) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0)
    return errno == ENOENT ? std::expected<void, std::string>()
                           : std::unexpected(path + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return std::unexpected(path + ": " + std::strerror(errno));
    return {};
  }
  // Down one directory at a time, holding only its descriptor; back up
  // through "..", which no one else can move meanwhile (the tree is ours).
  std::vector<std::string> names;  // the directories entered below `path`
  int fd = ::open(path.c_str(), kDirFlags);
  if (fd < 0) return std::unexpected(path + ": " + std::strerror(errno));
  auto failed = [&](const std::string& name, int err) {
    ::close(fd);
    std::string p = path;
    for (const auto& n : names) p += "/" + n;
    if (!name.empty()) p += "/" + name;
    return std::unexpected(p + ": " + (err ? std::strerror(err) : "removal cancelled"));
  };
  for (;;) {
    if (cancel && cancel->load(std::memory_order_relaxed)) return failed("", 0);
    auto subdir = unlink_until_directory(fd);
    if (!subdir) return failed(subdir.error().name, subdir.error().err);
    if (!subdir->empty()) {
      int child = ::openat(fd, subdir->c_str(), kDirFlags);
      if (child < 0) return failed(*subdir, errno);
      ::close(fd);
      fd = child;
      names.push_back(std::move(*subdir));
      continue;
    }
    // This directory is empty now.
    if (names.empty()) {
      ::close(fd);
      if (::rmdir(path.c_str()) != 0 && errno != ENOENT)
        return std::unexpected(path + ": " + std::strerror(errno));
      return {};
    }
    int parent = ::openat(fd, "..", kDirFlags);
    if (parent < 0) return failed("..", errno);
    ::close(fd);
    fd = parent;
    std::string done = std::move(names.back());
    names.pop_back();
    if (::unlinkat(fd, done.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
      return failed(done, errno);
  }
}

std::expected<std::string, std::string> read_file_at(int dir_fd, const char* name, uint64_t max) {
  int fd = ::openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return std::unexpected(std::string(std::strerror(errno)));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return std::unexpected(std::string("not a regular file"));
  }
  std::string data;
  if (static_cast<uint64_t>(st.st_size) > max) {
    ::close(fd);
    return std::unexpected("larger than " + std::to_string(max) + " bytes");
  }
  data.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return std::unexpected(std::string(std::strerror(err)));
    }
    if (n == 0) break;  // shrank meanwhile: what is there
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  ::close(fd);
  return data;
}

}  // namespace shoal::tree
