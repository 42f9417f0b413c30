// The path walk never leaves its base directory: a table of escape attempts,
// each with the errno it must end in, and the walks that must still work.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "tests/support/print.h"
#include "tests/support/process.h"
#include "wasi/path_walk.h"

namespace fs = std::filesystem;
using shoal::wasi::Errno;
using shoal::wasi::errno_name;
using shoal::wasi::resolve_path;

namespace {

// root/secret.txt lies outside; root/base is the directory walked from.
struct Tree {
  shoal::test::TempDir root;
  std::string base = root.path() + "/base";
  shoal::wasi::UniqueFd base_fd;

  Tree() {
    fs::create_directories(base + "/a/b/c");
    std::ofstream(root.path() + "/secret.txt") << "secret";
    std::ofstream(base + "/file.txt") << "inside";
    fs::create_symlink("..", base + "/up");
    fs::create_symlink("/etc", base + "/abs");
    fs::create_symlink("loop2", base + "/loop1");
    fs::create_symlink("loop1", base + "/loop2");
    fs::create_symlink("a", base + "/ok_link");
    fs::create_symlink("nowhere", base + "/dangling");
    fs::create_symlink("a/../../", base + "/deep");
    fs::create_symlink("a/../abs", base + "/chain");
    fs::create_symlink("../../../..", base + "/a/b/c/rel_up");
    fs::create_symlink("../secret.txt", base + "/secret_link");
    base_fd.reset(::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
};

struct Escape {
  std::string path;
  bool follow;
  Errno expected;
};

}  // namespace

BOOST_AUTO_TEST_CASE(escape_attempts_fail_with_the_expected_errno) {
  Tree t;
  std::string many_ups;
  for (int i = 0; i < 300; ++i) many_ups += "../";
  const std::vector<Escape> table = {
      {"..", false, Errno::notcapable},
      {"../secret.txt", false, Errno::notcapable},
      {"../secret.txt", true, Errno::notcapable},
      {"a/../../secret.txt", false, Errno::notcapable},
      {"a/b/../../../secret.txt", false, Errno::notcapable},
      {"a/b/c/../../../../secret.txt", false, Errno::notcapable},
      {"./.././secret.txt", false, Errno::notcapable},
      {"a//..//..//secret.txt", false, Errno::notcapable},
      {"a/../a/../..", false, Errno::notcapable},
      {"a/" + many_ups + "secret.txt", false, Errno::notcapable},
      {"/etc/passwd", false, Errno::notcapable},
      {"/", false, Errno::notcapable},
      {"//etc", true, Errno::notcapable},
      {"up/secret.txt", false, Errno::notcapable},
      {"up", true, Errno::notcapable},
      {"up/", false, Errno::notcapable},
      {"abs/passwd", false, Errno::notcapable},
      {"abs", true, Errno::notcapable},
      {"abs/", false, Errno::notcapable},
      {"deep/secret.txt", false, Errno::notcapable},
      {"deep", true, Errno::notcapable},
      {"chain", true, Errno::notcapable},
      {"chain/passwd", false, Errno::notcapable},
      {"ok_link/../../secret.txt", false, Errno::notcapable},
      {"a/b/c/rel_up/secret.txt", false, Errno::notcapable},
      {"a/b/c/rel_up", true, Errno::notcapable},
      {"secret_link", true, Errno::notcapable},
      {"loop1/x", false, Errno::loop},
      {"loop1", true, Errno::loop},
      {std::string("file.txt\0/../../secret.txt", 26), false, Errno::inval},
      {std::string("a\0", 2), false, Errno::inval},
      {"", false, Errno::noent},
      {"file.txt/x", false, Errno::notdir},
      {"dangling/x", false, Errno::noent},
      {"%2e%2e/secret.txt", false, Errno::noent},
  };
  BOOST_TEST(table.size() >= 30u);
  for (const Escape& e : table) {
    auto r = resolve_path(t.base_fd.get(), e.path, e.follow);
    BOOST_TEST_CONTEXT("path '" << e.path << "' follow=" << e.follow) {
      BOOST_TEST(!r.has_value());
      if (!r) BOOST_TEST(errno_name(r.error()) == errno_name(e.expected));
    }
  }
}

BOOST_AUTO_TEST_CASE(walks_inside_the_base_resolve_to_the_right_entry) {
  Tree t;
  struct Case {
    std::string path;
    bool follow;
    std::string host;  // the entry it must name, relative to base
  };
  const std::vector<Case> cases = {
      {"file.txt", false, "file.txt"},
      {"a/b", false, "a/b"},
      {"a/b/c/", false, "a/b/c"},
      {".", false, "."},
      {"a/..", false, "."},
      {"ok_link", true, "a"},
      {"ok_link/b", false, "a/b"},
      {"ok_link/../file.txt", false, "file.txt"},
      {"a/b/c/../../../file.txt", false, "file.txt"},
      {"up", false, "up"},  // the link itself, not its target
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT("path '" << c.path << "'") {
      auto r = resolve_path(t.base_fd.get(), c.path, c.follow);
      BOOST_TEST_REQUIRE(r.has_value());
      struct stat got, want;
      BOOST_TEST(::fstatat(r->dir, r->name.c_str(), &got, AT_SYMLINK_NOFOLLOW) == 0);
      BOOST_TEST(::lstat((t.base + "/" + c.host).c_str(), &want) == 0);
      BOOST_TEST(got.st_ino == want.st_ino);
    }
  }
}

BOOST_AUTO_TEST_CASE(the_final_symlink_is_left_alone_without_follow) {
  Tree t;
  auto r = resolve_path(t.base_fd.get(), "abs", false);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->name == "abs");
  BOOST_TEST(r->dir == t.base_fd.get());
}

BOOST_AUTO_TEST_CASE(a_trailing_slash_is_kept_so_the_host_insists_on_a_directory) {
  Tree t;
  auto r = resolve_path(t.base_fd.get(), "file.txt/", false);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->name == "file.txt/");
  struct stat st;
  BOOST_TEST(::fstatat(r->dir, r->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == -1);
  BOOST_TEST(errno == ENOTDIR);
}
