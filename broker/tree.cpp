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
  auto shown = [&] {
    std::string p = path;
    for (const auto& n : names) p += "/" + n;
    return p;
  };
  for (;;) {
    if (cancel && cancel->load(std::memory_order_relaxed)) {
      ::close(fd);
      return std::unexpected(shown() + ": removal cancelled");
    }
    DIR* dir = ::fdopendir(::dup(fd));
    if (!dir) {
      std::string err = shown() + ": " + std::strerror(errno);
      ::close(fd);
      return std::unexpected(err);
    }
    ::rewinddir(dir);  // the duplicate shares the offset of an earlier listing
    std::string subdir;
    bool failed = false;
    int err = 0;
    std::string failed_name;
    while (struct dirent* d = ::readdir(dir)) {
      if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
      if (::unlinkat(fd, d->d_name, 0) == 0 || errno == ENOENT) continue;
      if (errno == EISDIR || errno == EPERM) {
        struct stat s;
        if (::fstatat(fd, d->d_name, &s, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(s.st_mode)) {
          subdir = d->d_name;
          break;
        }
      }
      failed = true;
      err = errno;
      failed_name = d->d_name;
      break;
    }
    ::closedir(dir);
    if (failed) {
      ::close(fd);
      return std::unexpected(shown() + "/" + failed_name + ": " + std::strerror(err));
    }
    if (!subdir.empty()) {
      int child = ::openat(fd, subdir.c_str(), kDirFlags);
      if (child < 0) {
        err = errno;
        ::close(fd);
        return std::unexpected(shown() + "/" + subdir + ": " + std::strerror(err));
      }
      ::close(fd);
      fd = child;
      names.push_back(std::move(subdir));
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
    err = errno;
    ::close(fd);
    if (parent < 0) return std::unexpected(shown() + "/..: " + std::strerror(err));
    fd = parent;
    std::string done = std::move(names.back());
    names.pop_back();
    if (::unlinkat(fd, done.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      err = errno;
      ::close(fd);
      return std::unexpected(shown() + "/" + done + ": " + std::strerror(err));
    }
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
