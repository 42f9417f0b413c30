// Path calls, called directly on a WASI environment.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>
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
  // A relative target that climbs out is stored, and never followed out.
  uint32_t target = f.put(400, "../../etc/passwd"), link = f.put(500, "pw");
  BOOST_TEST(ok(f.call("path_symlink", {400, target, 3, 500, link})));
  uint32_t fd;
  BOOST_TEST(name(f.open("pw", 0, right::fd_read, fd, 1)) == "NOTCAPABLE");
  BOOST_TEST(!fs::exists(f.dir.path() + "/../escaped"));
  // An absolute target is refused: a host program reading the mount later
  // would follow it to the host's own /etc/passwd.
  uint32_t absolute = f.put(600, "/etc/passwd"), link2 = f.put(700, "pw2");
  BOOST_TEST(name(f.call("path_symlink", {600, absolute, 3, 700, link2})) == "PERM");
  BOOST_TEST(!fs::is_symlink(f.dir.path() + "/pw2"));
}

BOOST_AUTO_TEST_CASE(a_symlink_named_with_a_trailing_slash_over_a_file_is_enotdir) {
  WasiFixture f;
  std::ofstream(f.dir.path() + "/file") << "x";
  fs::create_directory(f.dir.path() + "/dir");
  uint32_t target = f.put(100, "source"), over_file = f.put(200, "file/"),
           over_dir = f.put(300, "dir/"), missing = f.put(400, "missing/");
  BOOST_TEST(name(f.call("path_symlink", {100, target, 3, 200, over_file})) == "NOTDIR");
  BOOST_TEST(name(f.call("path_symlink", {100, target, 3, 300, over_dir})) == "EXIST");
  BOOST_TEST(name(f.call("path_symlink", {100, target, 3, 400, missing})) == "NOENT");
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

namespace {

// Calls `open` (a path_open of a FIFO); should it block (the bug this
// guards against), a helper opens the FIFO's write end after a while, which
// lets the open return, so the test fails on its result instead of hanging.
Errno open_unblocked(const std::string& fifo, const std::function<Errno()>& open) {
  std::mutex mu;
  std::condition_variable cv;
  bool returned = false;
  std::thread rescuer([&] {
    std::unique_lock lock(mu);
    if (cv.wait_for(lock, std::chrono::seconds(10), [&] { return returned; })) return;
    for (int i = 0; i < 1000 && !returned; ++i) {  // until the reader is there
      int w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (w >= 0) {
        ::close(w);
        return;
      }
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      lock.lock();
    }
  });
  Errno e = open();
  {
    std::lock_guard lock(mu);
    returned = true;
  }
  cv.notify_all();
  rescuer.join();
  return e;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_fifo_in_a_mount_is_enxio_at_once_for_reading_and_writing) {
  WasiFixture f;
  const std::string fifo = f.dir.path() + "/p";
  BOOST_TEST_REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  uint32_t fd = 0;
  BOOST_TEST(name(open_unblocked(fifo, [&] { return f.open("p", 0, right::fd_read, fd); })) ==
             "NXIO");
  BOOST_TEST(name(open_unblocked(fifo, [&] { return f.open("p", 0, right::fd_write, fd); })) ==
             "NXIO");
  BOOST_TEST(name(open_unblocked(fifo, [&] {
               return f.open("p", 0, right::fd_read | right::fd_write, fd);
             })) == "NXIO");
  // Asking for a directory gets Linux's answer for a FIFO, without opening it.
  BOOST_TEST(name(f.open("p", wa::oflag::directory, right::fd_readdir, fd)) == "NOTDIR");
  // Reached through a symlink, the same.
  fs::create_symlink("p", f.dir.path() + "/link");
  BOOST_TEST(name(open_unblocked(fifo, [&] { return f.open("link", 0, right::fd_read, fd, 1); })) ==
             "NXIO");
  // The FIFO is still there to see: stat and readdir show it.
  uint32_t len = f.put(100, "p");
  BOOST_TEST(ok(f.call("path_filestat_get", {3, 0, 100, len, 200})));
  BOOST_TEST(f.memory[200 + wa::filestat::filetype] ==
             static_cast<uint8_t>(shoal::wasi::abi::Filetype::unknown));
}

BOOST_AUTO_TEST_CASE(a_unix_socket_in_a_mount_is_enxio) {
  WasiFixture f;
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BOOST_TEST_REQUIRE(s >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = f.dir.path() + "/sock";
  BOOST_TEST_REQUIRE(path.size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  BOOST_TEST_REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  BOOST_TEST_REQUIRE(::listen(s, 1) == 0);
  uint32_t fd = 0;
  BOOST_TEST(name(f.open("sock", 0, right::fd_read, fd)) == "NXIO");
  ::close(s);
}

BOOST_AUTO_TEST_CASE(a_device_in_a_mount_is_enxio) {
  if (::geteuid() != 0) {
    // mknod needs root; CI runs as root, where this must not be skipped.
    const char* ci = std::getenv("CI");
    BOOST_TEST_REQUIRE(!(ci && std::string(ci) == "true"), "under CI this test must run as root");
    BOOST_TEST_MESSAGE("skipped: making a device node needs root");
    return;
  }
  WasiFixture f;
  // /dev/null's numbers (1, 3), and /dev/tty's (5, 0), which an open
  // without O_NOCTTY could make a controlling terminal.
  BOOST_TEST_REQUIRE(::mknod((f.dir.path() + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
  BOOST_TEST_REQUIRE(::mknod((f.dir.path() + "/tty").c_str(), S_IFCHR | 0666, makedev(5, 0)) == 0);
  uint32_t fd = 0;
  BOOST_TEST(name(f.open("null", 0, right::fd_read, fd)) == "NXIO");
  BOOST_TEST(name(f.open("null", 0, right::fd_write, fd)) == "NXIO");
  BOOST_TEST(name(f.open("tty", 0, right::fd_read, fd)) == "NXIO");
}

BOOST_AUTO_TEST_CASE(a_file_opened_without_nonblock_does_not_report_it) {
  // The host opens every file O_NONBLOCK (so that a FIFO cannot block) and
  // clears it again: the guest sees the flags it asked for.
  WasiFixture f;
  std::ofstream(f.dir.path() + "/a") << "abc";
  uint32_t fd = 0;
  BOOST_TEST_REQUIRE(ok(f.open("a", 0, right::fd_read | right::fd_fdstat_set_flags, fd)));
  BOOST_TEST_REQUIRE(ok(f.call("fd_fdstat_get", {fd, 200})));
  BOOST_TEST(f.memory[200 + wa::fdstat::filetype] ==
             static_cast<uint8_t>(shoal::wasi::abi::Filetype::regular_file));
  uint16_t flags;
  std::memcpy(&flags, f.memory.data() + 200 + wa::fdstat::flags, 2);
  BOOST_TEST(flags == 0u);
  BOOST_TEST_REQUIRE(ok(f.open("a", 0, right::fd_read, fd, 1, wa::fdflag::nonblock)));
  BOOST_TEST_REQUIRE(ok(f.call("fd_fdstat_get", {fd, 200})));
  std::memcpy(&flags, f.memory.data() + 200 + wa::fdstat::flags, 2);
  BOOST_TEST(flags == wa::fdflag::nonblock);
  // A directory, and a file made by the open, likewise.
  BOOST_TEST_REQUIRE(ok(f.open(".", wa::oflag::directory, right::fd_readdir, fd)));
  BOOST_TEST_REQUIRE(ok(f.call("fd_fdstat_get", {fd, 200})));
  std::memcpy(&flags, f.memory.data() + 200 + wa::fdstat::flags, 2);
  BOOST_TEST(flags == 0u);
  BOOST_TEST_REQUIRE(
      ok(f.open("new", wa::oflag::creat, right::fd_write, fd, 1, wa::fdflag::append)));
  BOOST_TEST_REQUIRE(ok(f.call("fd_fdstat_get", {fd, 200})));
  std::memcpy(&flags, f.memory.data() + 200 + wa::fdstat::flags, 2);
  BOOST_TEST(flags == wa::fdflag::append);
}
