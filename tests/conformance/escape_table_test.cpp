// Escape attempts from inside a guest: escape_table.c runs a table of
// attempts to reach ROOT/outside from the mount of ROOT/inside, each row with
// the errno it must end in, and this test checks every row held and that
// nothing outside the mount was read into, created, changed or removed.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/support/process.h"

namespace fs = std::filesystem;
using shoal::test::required_env;
using shoal::test::run_process;
using shoal::test::TempDir;

namespace {

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

struct timespec mtime_of(const std::string& path) {
  struct stat st {};
  ::lstat(path.c_str(), &st);
  return st.st_mtim;
}

}  // namespace

BOOST_AUTO_TEST_CASE(no_escape_attempt_reaches_outside_the_mount) {
  TempDir root;
  const std::string inside = root.path() + "/inside", outside = root.path() + "/outside";
  fs::create_directories(inside);
  fs::create_directories(outside + "/dir");
  std::ofstream(outside + "/secret.txt") << "secret";
  const struct timespec secret_mtime = mtime_of(outside + "/secret.txt");
  // Absolute symlinks, which a guest may not make (EPERM), planted by the
  // host as the owner of a mounted directory could.
  fs::create_symlink("/", inside + "/abs");
  fs::create_symlink(outside + "/secret.txt", inside + "/host_abs");
  fs::create_symlink(outside + "/created2.txt", inside + "/dangling_abs");

  auto r = run_process({required_env("SHOAL_BIN"), "exec", "--dir", inside + "::/sandbox",
                        required_env("SHOAL_CONFORMANCE_DIR") + "/escape_table.wasm", outside});
  BOOST_TEST(r.status == 0, r.out + r.err);
  BOOST_TEST(r.err == "");

  std::istringstream in(r.out);
  int rows = 0, ok = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("rows ")) {
      rows = std::stoi(line.substr(5));
      continue;
    }
    BOOST_TEST(line.starts_with("ok "), line);
    ok += line.starts_with("ok ");
  }
  BOOST_TEST(rows >= 30);
  BOOST_TEST(ok == rows);

  // Outside, everything is as it was.
  BOOST_TEST((entries(root.path()) == std::set<std::string>{"inside", "outside"}));
  BOOST_TEST((entries(outside) == std::set<std::string>{"dir", "secret.txt"}));
  BOOST_TEST(fs::is_empty(outside + "/dir"));
  std::ifstream secret(outside + "/secret.txt");
  std::string content((std::istreambuf_iterator<char>(secret)), std::istreambuf_iterator<char>());
  BOOST_TEST(content == "secret");
  const struct timespec now = mtime_of(outside + "/secret.txt");
  BOOST_TEST(now.tv_sec == secret_mtime.tv_sec);
  BOOST_TEST(now.tv_nsec == secret_mtime.tv_nsec);
  BOOST_TEST(fs::hard_link_count(outside + "/secret.txt") == 1u);

  // What the rows that were meant to succeed made stays inside: the hard
  // link of an absolute symlink is a symlink, not the outside file.
  BOOST_TEST(fs::is_symlink(inside + "/hl_abs"));
  BOOST_TEST(fs::read_symlink(inside + "/hl_abs") == outside + "/secret.txt");
  BOOST_TEST(fs::is_symlink(inside + "/sub/deep/rel_out"));
}
