// Attacks on the sandbox that the escape table cannot make alone: a host
// process swapping a directory for a symlink while the guest walks through
// it, /proc's magic links, and hard links made on the host.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/support/process.h"

namespace fs = std::filesystem;
using shoal::test::required_env;
using shoal::test::run_process;
using shoal::test::TempDir;

namespace {

std::string probe() {
  return required_env("SHOAL_CONFORMANCE_DIR") + "/sandbox_probe.wasm";
}

std::set<std::string> tree(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    out.insert(fs::relative(e.path(), dir).string());
  return out;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// ROOT/inside is mounted at /sandbox and holds d/ (file, sub/file2: "inside")
// and dlink, a symlink to `target`; ROOT/outside holds the same names with
// "OUTSIDE" in them. A thread swaps d and dlink (renameat2 RENAME_EXCHANGE)
// as fast as it can while the guest reads through d.
struct SwapRace {
  TempDir root;
  std::string inside = root.path() + "/inside", outside = root.path() + "/outside";
  std::atomic<bool> stop{false};
  std::atomic<long> swaps{0};

  explicit SwapRace(bool absolute_link) {
    for (const std::string& side : {inside + "/d", outside}) {
      fs::create_directories(side + "/sub");
      std::ofstream(side + "/file") << (side == outside ? "OUTSIDE" : "inside");
      std::ofstream(side + "/sub/file2") << (side == outside ? "OUTSIDE" : "inside");
    }
    fs::create_symlink(absolute_link ? outside : "../outside", inside + "/dlink");
  }

  std::string run(int rounds) {
    std::thread swapper([this] {
      int dir = ::open(inside.c_str(), O_RDONLY | O_DIRECTORY);
      while (!stop) {
        if (::renameat2(dir, "d", dir, "dlink", RENAME_EXCHANGE) == 0) ++swaps;
      }
      ::close(dir);
    });
    auto r = run_process({required_env("SHOAL_BIN"), "exec", "--dir", inside + "::/sandbox",
                          probe(), "race", std::to_string(rounds)});
    stop = true;
    swapper.join();
    BOOST_TEST(r.status == 0, r.out + r.err);
    return r.out;
  }
};

void check_race(bool absolute_link) {
  SwapRace race(absolute_link);
  const auto outside_before = tree(race.outside);
  std::string out = race.run(400);
  BOOST_TEST_MESSAGE("swaps " << race.swaps << ": " << out);
  std::istringstream in(out);
  std::string w1, w2, w3, w4;
  long inside = -1, refused = -1, leaked = -1, created = -1;
  in >> w1 >> inside >> w2 >> refused >> w3 >> leaked >> w4 >> created;
  BOOST_TEST(w3 == "leaked");
  BOOST_TEST(leaked == 0);
  // Every attempt was answered: 5 reads per round.
  BOOST_TEST(inside + refused == 400 * 5);
  BOOST_TEST(race.swaps > 0);
  BOOST_TEST((tree(race.outside) == outside_before));
  BOOST_TEST(read(race.outside + "/file") == "OUTSIDE");
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_directory_swapped_for_a_relative_symlink_mid_walk_never_leaks) {
  check_race(false);
}

BOOST_AUTO_TEST_CASE(a_directory_swapped_for_an_absolute_symlink_mid_walk_never_leaks) {
  check_race(true);
}

// /proc's links to directories and files (root, cwd, exe) read as absolute
// paths, which the walk refuses; the kernel never follows one for the guest,
// since every component is opened O_NOFOLLOW. What fd/N and another
// process's links answer depends on the host (a pipe's "pipe:[N]" is a
// relative name that leads nowhere: NOENT; another process's root: ACCES),
// but it is never a file.
BOOST_AUTO_TEST_CASE(proc_magic_links_in_a_mounted_proc_lead_nowhere) {
  auto r = run_process({required_env("SHOAL_BIN"), "exec", "--dir", "/proc::/proc:ro", probe(),
                        "open", "/proc", "self/root/etc/hostname", "self/cwd/x", "self/exe",
                        "thread-self/root/etc/hostname", "self/root",
                        "self/../self/root/etc/passwd", "self/fd/0", "self/fd/1", "self/fd/3",
                        "1/root/etc/hostname", "self/task/../cwd/x"});
  BOOST_TEST(r.status == 0, r.err);
  std::istringstream lines(r.out);
  std::vector<std::string> got;
  for (std::string line; std::getline(lines, line);) got.push_back(line);
  BOOST_TEST_REQUIRE(got.size() == 11u, r.out);
  const std::vector<std::string> exact = {
      "self/root/etc/hostname -> NOTCAPABLE",
      "self/cwd/x -> NOTCAPABLE",
      "self/exe -> NOTCAPABLE",
      "thread-self/root/etc/hostname -> NOTCAPABLE",
      "self/root -> NOTCAPABLE",
      "self/../self/root/etc/passwd -> NOTCAPABLE",
  };
  for (size_t i = 0; i < exact.size(); ++i) BOOST_TEST(got[i] == exact[i]);
  for (size_t i = exact.size(); i < got.size(); ++i)
    BOOST_TEST(got[i].find("SUCCESS") == std::string::npos, got[i]);
}

// Symlinks to /proc's links, planted by the host in a mount, are refused
// like any absolute symlink; relative ones that climb to /proc pop past the
// mount.
BOOST_AUTO_TEST_CASE(symlinks_into_proc_inside_a_mount_are_refused) {
  TempDir dir;
  fs::create_symlink("/proc/self/root", dir.path() + "/root");
  fs::create_symlink("/proc/self/fd", dir.path() + "/fds");
  std::string up;
  for (int i = 0; i < 40; ++i) up += "../";
  fs::create_symlink(up + "proc/self/root", dir.path() + "/climb");
  auto r =
      run_process({required_env("SHOAL_BIN"), "exec", "--dir", dir.path() + "::/data", probe(),
                   "open", "/data", "root/etc/hostname", "fds/3", "fds/0", "climb/etc/hostname"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out ==
             "root/etc/hostname -> NOTCAPABLE\n"
             "fds/3 -> NOTCAPABLE\n"
             "fds/0 -> NOTCAPABLE\n"
             "climb/etc/hostname -> NOTCAPABLE\n");
}

// A hard link is the file itself: one the host made inside a mount shows
// the guest that file (mounting it was the host's choice), read-only when
// the mount is. The guest can never make one to a file outside.
BOOST_AUTO_TEST_CASE(a_host_hard_link_is_the_file_and_the_guest_cannot_make_one_out) {
  TempDir root;
  fs::create_directories(root.path() + "/inside");
  std::ofstream(root.path() + "/outside.txt") << "OUTSIDE";
  fs::create_hard_link(root.path() + "/outside.txt", root.path() + "/inside/hard");
  fs::create_symlink("../outside.txt", root.path() + "/inside/soft");
  auto r =
      run_process({required_env("SHOAL_BIN"), "exec", "--dir", root.path() + "/inside::/sandbox",
                   probe(), "open", "/sandbox", "hard", "soft"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out == "hard -> SUCCESS OUTSIDE\nsoft -> NOTCAPABLE\n");

  auto l =
      run_process({required_env("SHOAL_BIN"), "exec", "--dir", root.path() + "/inside::/sandbox",
                   probe(), "link", "/sandbox", "soft", "../made", "copy"});
  BOOST_TEST(l.status == 0, l.err);
  // Not following, the link copies the symlink itself (inside); following
  // it is refused.
  BOOST_TEST(l.out == "../made -> NOTCAPABLE NOTCAPABLE\ncopy -> SUCCESS NOTCAPABLE\n");
  BOOST_TEST(fs::is_symlink(root.path() + "/inside/copy"));
  BOOST_TEST(fs::hard_link_count(root.path() + "/outside.txt") == 2u);
  BOOST_TEST(!fs::exists(root.path() + "/made"));
}
