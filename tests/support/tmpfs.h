// A small tmpfs mounted on a fresh temporary directory: a disk that fills
// up. Mounting needs root (CAP_SYS_ADMIN); tests that use it declare
// `*boost::unit_test::precondition(shoal::test::can_mount_tmpfs)` and are
// skipped, saying why, elsewhere.
#pragma once

#include <sys/mount.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>

#include "tests/support/process.h"

namespace shoal::test {

class Tmpfs {
 public:
  explicit Tmpfs(const std::string& size) {
    std::string opts = "size=" + size + ",mode=0700";
    if (::mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, opts.c_str()) != 0)
      throw std::runtime_error("mount tmpfs on " + dir_.path() + ": " + std::strerror(errno));
  }
  ~Tmpfs() { ::umount2(dir_.path().c_str(), MNT_DETACH); }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;
  const std::string& path() const { return dir_.path(); }

  // Writes `name` until the file system is full; returns the bytes written.
  uint64_t fill(const std::string& name) const {
    std::string block(1 << 16, 'f');
    std::FILE* f = std::fopen((dir_.path() + "/" + name).c_str(), "w");
    if (!f) return 0;
    uint64_t n = 0;
    while (std::fwrite(block.data(), 1, block.size(), f) == block.size()) n += block.size();
    std::fclose(f);
    // What the last partial block left: fill it byte by byte.
    f = std::fopen((dir_.path() + "/" + name).c_str(), "a");
    while (f && std::fputc('f', f) != EOF && std::fflush(f) == 0) ++n;
    if (f) std::fclose(f);
    return n;
  }

 private:
  TempDir dir_;
};

inline boost::test_tools::assertion_result can_mount_tmpfs(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(false);
  if (::geteuid() != 0) {
    r.message() << "skipped: mounting a tmpfs needs root";
    return r;
  }
  try {
    Tmpfs probe("1m");
  } catch (const std::exception& e) {
    r.message() << "skipped: " << e.what();
    return r;
  }
  return true;
}

}  // namespace shoal::test
