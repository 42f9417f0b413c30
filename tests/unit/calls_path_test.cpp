// Path calls, called directly on a WASI environment.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <vector>

#include "tests/support/wasi_fixture.h"
#include "wasi/abi.h"

namespace fs = std::filesystem;
using shoal::test::WasiFixture;
using shoal::wasi::Errno;
namespace wa = shoal::wasi::abi;  // ::abi is <cxxabi.h>'s
namespace right = shoal::wasi::abi::right;

namespace {
bool ok(Errno e) {
  return e == Errno::success;
}
std::string name(Errno e) {
  return std::string(shoal::wasi::errno_name(e));
}
}  // namespace

BOOST_AUTO_TEST_CASE(create_write_and_read_back_a_file) {
  WasiFixture f;
  uint32_t fd;
  BOOST_TEST_REQUIRE(ok(
      f.open("new.txt", wa::oflag::creat | wa::oflag::excl, right::fd_write | right::fd_read, fd)));
  f.put(100, "abc");
  uint32_t iov[2] = {100, 3};
  std::memcpy(f.memory.data() + 16, iov, sizeof iov);
  BOOST_TEST(ok(f.call("fd_write", {fd, 16, 1, 8})));
  BOOST_TEST(ok(f.call("fd_close", {fd})));
  std::ifstream in(f.dir.path() + "/new.txt");
  std::string got;
  in >> got;
  BOOST_TEST(got == "abc");
  BOOST_TEST(name(f.open("new.txt", wa::oflag::creat | wa::oflag::excl, right::fd_write, fd)) ==
             "EXIST");
}

BOOST_AUTO_TEST_CASE(opening_a_symlink_without_follow_is_eloop_or_enotdir) {
  WasiFixture f;
  fs::create_directory(f.dir.path() + "/d");
  fs::create_symlink("d", f.dir.path() + "/link");
  uint32_t fd;
  BOOST_TEST(name(f.open("link", 0, right::fd_read, fd, 0)) == "LOOP");
  BOOST_TEST(name(f.open("link", wa::oflag::directory, right::fd_readdir, fd, 0)) == "NOTDIR");
  BOOST_TEST(ok(f.open("link", wa::oflag::directory, right::fd_readdir, fd, 1)));
}

BOOST_AUTO_TEST_CASE(a_path_with_a_nul_byte_is_einval) {
  WasiFixture f;
  uint32_t fd;
  BOOST_TEST(name(f.open(std::string_view("a\0b", 3), wa::oflag::creat, right::fd_write, fd)) ==
             "INVAL");
  BOOST_TEST(fs::is_empty(f.dir.path()));
}

BOOST_AUTO_TEST_CASE(readlink_into_a_short_buffer_truncates) {
  WasiFixture f;
  fs::create_symlink("a-rather-long-target", f.dir.path() + "/link");
  uint32_t len = f.put(100, "link");
  BOOST_TEST(ok(f.call("path_readlink", {3, 100, len, 200, 6, 8})));
  BOOST_TEST(f.u32_at(8) == 6u);
  BOOST_TEST(f.get(200, 6) == "a-rath");
}

BOOST_AUTO_TEST_CASE(timestamps_keep_their_nanoseconds) {
  WasiFixture f;
  std::ofstream(f.dir.path() + "/t") << "t";
  uint32_t len = f.put(100, "t");
  const uint64_t atim = 1'600'000'000'123'456'789ull, mtim = 1'700'000'000'987'654'321ull;
  BOOST_TEST(ok(f.call("path_filestat_set_times",
                       {3, 0, 100, len, atim, mtim, wa::fstflag::atim | wa::fstflag::mtim})));
  BOOST_TEST(ok(f.call("path_filestat_get", {3, 0, 100, len, 200})));
  BOOST_TEST(f.u64_at(200 + wa::filestat::atim) == atim);
  BOOST_TEST(f.u64_at(200 + wa::filestat::mtim) == mtim);
  BOOST_TEST(f.u64_at(200 + wa::filestat::fsize) == 1u);
  BOOST_TEST(name(f.call("path_filestat_set_times",
                         {3, 0, 100, len, 0, 0, wa::fstflag::atim | wa::fstflag::atim_now})) ==
             "INVAL");
}

BOOST_AUTO_TEST_CASE(directories_are_made_listed_and_removed) {
  WasiFixture f;
  uint32_t len = f.put(100, "sub");
  BOOST_TEST(ok(f.call("path_create_directory", {3, 100, len})));
  BOOST_TEST(fs::is_directory(f.dir.path() + "/sub"));
  BOOST_TEST(name(f.call("path_create_directory", {3, 100, len})) == "EXIST");
  BOOST_TEST(name(f.call("path_unlink_file", {3, 100, len})) == "ISDIR");
  BOOST_TEST(ok(f.call("path_remove_directory", {3, 100, len})));
  BOOST_TEST(!fs::exists(f.dir.path() + "/sub"));
}

BOOST_AUTO_TEST_CASE(rename_link_and_symlink_stay_inside) {
  WasiFixture f;
  std::ofstream(f.dir.path() + "/a") << "a";
  uint32_t a = f.put(100, "a"), b = f.put(200, "b"), up = f.put(300, "../escaped");
  BOOST_TEST(ok(f.call("path_rename", {3, 100, a, 3, 200, b})));
  BOOST_TEST(fs::exists(f.dir.path() + "/b"));
  BOOST_TEST(name(f.call("path_rename", {3, 200, b, 3, 300, up})) == "NOTCAPABLE");
  BOOST_TEST(name(f.call("path_link", {3, 0, 200, b, 3, 300, up})) == "NOTCAPABLE");
  BOOST_TEST(ok(f.call("path_link", {3, 0, 200, b, 3, 100, a})));
  BOOST_TEST(fs::hard_link_count(f.dir.path() + "/b") == 2u);
  uint32_t target = f.put(400, "/etc/passwd"), link = f.put(500, "pw");
  BOOST_TEST(ok(f.call("path_symlink", {400, target, 3, 500, link})));
  uint32_t fd;
  BOOST_TEST(name(f.open("pw", 0, right::fd_read, fd, 1)) == "NOTCAPABLE");
  BOOST_TEST(!fs::exists(f.dir.path() + "/../escaped"));
}

BOOST_AUTO_TEST_CASE(a_read_only_mount_refuses_every_write_with_erofs) {
  WasiFixture f(/*read_only=*/true);
  std::ofstream(f.dir.path() + "/a") << "a";
  uint32_t fd;
  BOOST_TEST(name(f.open("new", wa::oflag::creat, right::fd_write, fd)) == "ROFS");
  BOOST_TEST(name(f.open("a", 0, right::fd_write, fd)) == "ROFS");
  BOOST_TEST(name(f.open("a", wa::oflag::trunc, right::fd_read, fd)) == "ROFS");
  uint32_t len = f.put(100, "a");
  BOOST_TEST(name(f.call("path_unlink_file", {3, 100, len})) == "ROFS");
  BOOST_TEST(name(f.call("path_create_directory", {3, 100, len})) == "ROFS");
  BOOST_TEST(ok(f.open("a", 0, right::fd_read | right::fd_write, fd) == Errno::rofs ? Errno::success
                                                                                    : Errno::io));
  BOOST_TEST_REQUIRE(ok(f.open("a", 0, right::fd_read, fd)));
  BOOST_TEST(fs::exists(f.dir.path() + "/a"));
}

// What reads leaves the environment's `wrote` unset, so that outputs need
// not be looked at; each call that may change the mount sets it.
BOOST_AUTO_TEST_CASE(reads_leave_a_mount_unwritten_and_each_change_is_noted) {
  {
    WasiFixture f;
    std::ofstream(f.dir.path() + "/a") << "a";
    uint32_t fd, len = f.put(100, "a");
    BOOST_TEST_REQUIRE(ok(f.open("a", 0, right::fd_read, fd)));
    BOOST_TEST(ok(f.call("path_filestat_get", {3, 0, 100, len, 200})));
    BOOST_TEST(name(f.open("missing", 0, right::fd_read, fd)) == "NOENT");
    BOOST_TEST(!f.env->wrote());
  }
  {
    WasiFixture ro(/*read_only=*/true);
    uint32_t fd;
    BOOST_TEST(name(ro.open("new", wa::oflag::creat, right::fd_write, fd)) == "ROFS");
    BOOST_TEST(!ro.env->wrote());  // refused before it touched anything
  }
  uint32_t fd;
  auto creates = [&](WasiFixture& f) { return ok(f.open("new", wa::oflag::creat, 0, fd)); };
  auto opens_for_writing = [&](WasiFixture& f) { return ok(f.open("a", 0, right::fd_write, fd)); };
  auto makes_a_directory = [](WasiFixture& f) {
    uint32_t len = f.put(100, "sub");
    return ok(f.call("path_create_directory", {3, 100, len}));
  };
  auto links = [](WasiFixture& f) {
    uint32_t a = f.put(100, "a"), b = f.put(200, "b");
    return ok(f.call("path_link", {3, 0, 100, a, 3, 200, b}));
  };
  auto symlinks = [](WasiFixture& f) {
    uint32_t t = f.put(100, "a"), l = f.put(200, "l");
    return ok(f.call("path_symlink", {100, t, 3, 200, l}));
  };
  auto renames = [](WasiFixture& f) {
    uint32_t a = f.put(100, "a"), b = f.put(200, "b");
    return ok(f.call("path_rename", {3, 100, a, 3, 200, b}));
  };
  auto removes = [](WasiFixture& f) {
    uint32_t a = f.put(100, "a");
    return ok(f.call("path_unlink_file", {3, 100, a}));
  };
  auto fails_to_remove = [](WasiFixture& f) {
    uint32_t m = f.put(100, "missing");
    return name(f.call("path_unlink_file", {3, 100, m})) == "NOENT";
  };
  for (auto change : std::vector<std::function<bool(WasiFixture&)>>{
           creates, opens_for_writing, makes_a_directory, links, symlinks, renames, removes,
           fails_to_remove}) {
    WasiFixture f;
    std::ofstream(f.dir.path() + "/a") << "a";
    BOOST_TEST(change(f));
    BOOST_TEST(f.env->wrote());
  }
}

BOOST_AUTO_TEST_CASE(truncation_needs_its_right) {
  WasiFixture f;
  std::ofstream(f.dir.path() + "/a") << "abc";
  BOOST_TEST(
      ok(f.call("fd_fdstat_set_rights", {3, wa::right::directory & ~right::path_filestat_set_size,
                                         wa::right::directory | wa::right::file})));
  uint32_t fd;
  BOOST_TEST(name(f.open("a", wa::oflag::trunc, right::fd_write, fd)) == "NOTCAPABLE");
  BOOST_TEST(fs::file_size(f.dir.path() + "/a") == 3u);
}
