// A directory tree for the fuzz targets of the WASI layer: `root` holds a
// secret file and the directory `root/base`, which is what the guest may
// reach; base holds files, directories and symlinks that point outside
// (relative, absolute, chained) and at /proc. Anything the fuzzer reaches
// that is not beneath base is an escape.
#pragma once

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace shoal::fuzz {

inline constexpr char kSecret[] = "the secret outside the sandbox";

struct FuzzTree {
  std::string root;
  std::string base;

  FuzzTree() {
    // /dev/shm when there is one: the calls target syncs files, and a
    // memory file system makes that free.
    char tmpl[] = "/dev/shm/shoal-fuzz-XXXXXX";
    if (::access("/dev/shm", W_OK) != 0) std::memcpy(tmpl, "/tmp/shoal-fuzz-XXXXXX", 23);
    if (!::mkdtemp(tmpl)) std::abort();
    char real[PATH_MAX];
    if (!::realpath(tmpl, real)) std::abort();
    root = real;
    base = root + "/base";
    std::filesystem::create_directories(root + "/outside/dir");
    std::ofstream(root + "/secret.txt") << kSecret;
    std::ofstream(root + "/outside/dir/file") << kSecret;
    reset();
  }
  ~FuzzTree() {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }

  // Puts base back in its initial state (the calls target changes it).
  void reset() {
    namespace fs = std::filesystem;
    std::error_code ec;
    ::chmod(base.c_str(), 0700);
    fs::remove_all(base, ec);
    fs::create_directories(base + "/a/b/c");
    std::ofstream(base + "/file.txt") << "inside";
    std::ofstream(base + "/a/b/c/deep.txt") << "deep";
    link("..", "up");
    link("../..", "a/upup");
    link(root + "/secret.txt", "abs_secret");
    link("/", "root");
    link("../secret.txt", "secret_link");
    link("a/../../outside", "chain");
    link("a/b/c/../../../up/outside", "chain2");
    link("../../../../../..", "a/b/c/rel_up");
    link("/proc/self/root", "proc_root");
    link("/proc/self/cwd", "proc_cwd");
    link("/proc/self/fd/3", "proc_fd");
    link("file.txt", "ok_link");
    link("a/b", "dir_link");
    link("nowhere", "dangling");
    link("loop2", "loop1");
    link("loop1", "loop2");
  }

  // Whether the host path `p` (already resolved, no symlinks) is base or
  // lies beneath it.
  bool inside(const std::string& p) const { return p == base || p.starts_with(base + "/"); }

  // The outside files are as they were created.
  bool outside_intact() const {
    for (const char* f : {"/secret.txt", "/outside/dir/file"}) {
      std::ifstream in(root + f);
      std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (s != kSecret) return false;
    }
    size_t n = 0;
    for (auto& e : std::filesystem::directory_iterator(root)) {
      (void)e;
      ++n;
    }
    return n == 3;  // secret.txt, outside, base
  }

 private:
  void link(const std::string& target, const std::string& name) {
    std::error_code ec;
    std::filesystem::create_symlink(target, base + "/" + name, ec);
  }
};

// The host path an open fd names (readlink of /proc/self/fd/N).
inline std::string fd_path(int fd) {
  char buf[PATH_MAX + 1];
  std::string link = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = ::readlink(link.c_str(), buf, PATH_MAX);
  if (n < 0) return {};
  return std::string(buf, static_cast<size_t>(n));
}

[[noreturn]] inline void escaped(const std::string& what) {
  std::fprintf(stderr, "ESCAPE: %s\n", what.c_str());
  std::abort();
}

}  // namespace shoal::fuzz
