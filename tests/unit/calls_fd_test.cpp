// Descriptor calls, called directly on a WASI environment.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "tests/support/wasi_fixture.h"
#include "wasi/abi.h"

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

BOOST_AUTO_TEST_CASE(fd_write_gathers_iovecs_into_stdout) {
  WasiFixture f;
  f.put(100, "hello ");
  f.put(200, "world\n");
  uint32_t iov[4] = {100, 6, 200, 6};
  std::memcpy(f.memory.data() + 16, iov, sizeof iov);
  BOOST_TEST(ok(f.call("fd_write", {1, 16, 2, 8})));
  BOOST_TEST(f.u32_at(8) == 12u);
  BOOST_TEST(f.out.contents() == "hello world\n");
}

BOOST_AUTO_TEST_CASE(fd_write_with_an_iovec_out_of_bounds_is_efault) {
  WasiFixture f;
  uint32_t iov[2] = {65530, 100};
  std::memcpy(f.memory.data() + 16, iov, sizeof iov);
  BOOST_TEST(name(f.call("fd_write", {1, 16, 1, 8})) == "FAULT");
  BOOST_TEST(f.out.contents() == "");
}

BOOST_AUTO_TEST_CASE(calls_on_a_closed_fd_are_ebadf) {
  WasiFixture f;
  BOOST_TEST(name(f.call("fd_write", {42, 16, 0, 8})) == "BADF");
  BOOST_TEST(name(f.call("fd_close", {42})) == "BADF");
  BOOST_TEST(name(f.call("sock_send", {42, 0, 0, 0, 0})) == "BADF");
}

BOOST_AUTO_TEST_CASE(socket_calls_on_a_file_are_enotsock) {
  WasiFixture f;
  BOOST_TEST(name(f.call("sock_accept", {1, 0, 8})) == "NOTSOCK");
  BOOST_TEST(name(f.call("sock_recv", {0, 0, 0, 0, 0, 0})) == "NOTSOCK");
  BOOST_TEST(name(f.call("sock_shutdown", {WasiFixture::kSandboxFd, 0})) == "NOTSOCK");
}

BOOST_AUTO_TEST_CASE(args_and_environ_are_packed_with_pointers) {
  WasiFixture f;
  BOOST_TEST(ok(f.call("args_sizes_get", {0, 4})));
  BOOST_TEST(f.u32_at(0) == 2u);
  BOOST_TEST(f.u32_at(4) == 9u);  // "prog\0arg\0"
  BOOST_TEST(ok(f.call("args_get", {100, 200})));
  BOOST_TEST(f.u32_at(100) == 200u);
  BOOST_TEST(f.u32_at(104) == 205u);
  BOOST_TEST(f.get(200, 9) == std::string("prog\0arg\0", 9));
  BOOST_TEST(ok(f.call("environ_get", {300, 400})));
  BOOST_TEST(f.get(400, 4) == std::string("A=1\0", 4));
}

BOOST_AUTO_TEST_CASE(preopens_are_named_and_only_preopens_have_prestat) {
  WasiFixture f;
  BOOST_TEST(ok(f.call("fd_prestat_get", {3, 0})));
  BOOST_TEST(f.u32_at(4) == 8u);
  BOOST_TEST(ok(f.call("fd_prestat_dir_name", {3, 100, 8})));
  BOOST_TEST(f.get(100, 8) == "/sandbox");
  BOOST_TEST(name(f.call("fd_prestat_dir_name", {3, 100, 4})) == "NAMETOOLONG");
  BOOST_TEST(name(f.call("fd_prestat_get", {1, 0})) == "BADF");
  // After the mounts, the fence at "/" (fd_table.h): a path below it is
  // refused as the guest's libc refused it, and noted by its guest path.
  BOOST_TEST(ok(f.call("fd_prestat_dir_name", {4, 100, 1})));
  BOOST_TEST(f.get(100, 1) == "/");
  BOOST_TEST(name(f.call("fd_prestat_get", {5, 0})) == "BADF");
  uint32_t fd;
  BOOST_TEST(name(f.open("data/x.txt", 0, right::fd_read, fd, 1, 0, 4)) == "NOTCAPABLE");
  BOOST_TEST(f.env->refused().value_or("") == "/data/x.txt");
}

BOOST_AUTO_TEST_CASE(read_seek_tell_on_a_file) {
  WasiFixture f;
  std::ofstream(f.dir.path() + "/data.txt") << "0123456789";
  uint32_t fd;
  BOOST_TEST_REQUIRE(
      ok(f.open("data.txt", 0, right::fd_read | right::fd_seek | right::fd_tell, fd)));
  uint32_t iov[2] = {100, 4};
  std::memcpy(f.memory.data() + 16, iov, sizeof iov);
  BOOST_TEST(ok(f.call("fd_read", {fd, 16, 1, 8})));
  BOOST_TEST(f.u32_at(8) == 4u);
  BOOST_TEST(f.get(100, 4) == "0123");
  BOOST_TEST(ok(f.call("fd_seek", {fd, static_cast<uint64_t>(-2), 1, 24})));
  BOOST_TEST(f.u64_at(24) == 2u);
  BOOST_TEST(ok(f.call("fd_tell", {fd, 24})));
  BOOST_TEST(f.u64_at(24) == 2u);
  BOOST_TEST(name(f.call("fd_seek", {fd, 0, 7, 24})) == "INVAL");
  BOOST_TEST(name(f.call("fd_seek", {1, 0, 0, 24})) == "SPIPE");
}

BOOST_AUTO_TEST_CASE(rights_can_be_dropped_but_never_regained) {
  WasiFixture f;
  std::ofstream(f.dir.path() + "/data.txt") << "x";
  uint32_t fd;
  BOOST_TEST_REQUIRE(ok(f.open("data.txt", 0, right::fd_read | right::fd_seek, fd)));
  BOOST_TEST(ok(f.call("fd_fdstat_set_rights", {fd, right::fd_read, 0})));
  BOOST_TEST(name(f.call("fd_seek", {fd, 0, 0, 24})) == "NOTCAPABLE");
  BOOST_TEST(name(f.call("fd_fdstat_set_rights", {fd, right::fd_read | right::fd_seek, 0})) ==
             "NOTCAPABLE");
  BOOST_TEST(ok(f.call("fd_fdstat_get", {fd, 64})));
  BOOST_TEST(f.u64_at(64 + wa::fdstat::rights_base) == right::fd_read);
}

BOOST_AUTO_TEST_CASE(fdstat_reports_append) {
  WasiFixture f;
  uint32_t fd;
  BOOST_TEST_REQUIRE(
      ok(f.open("log.txt", wa::oflag::creat, right::fd_write, fd, 1, wa::fdflag::append)));
  BOOST_TEST(ok(f.call("fd_fdstat_get", {fd, 64})));
  BOOST_TEST(f.memory[64 + wa::fdstat::filetype] ==
             static_cast<uint8_t>(wa::Filetype::regular_file));
  BOOST_TEST((f.memory[64 + wa::fdstat::flags] & wa::fdflag::append) != 0);
}

BOOST_AUTO_TEST_CASE(readdir_lists_dot_and_dotdot_and_resumes_from_a_cookie) {
  WasiFixture f;
  std::ofstream(f.dir.path() + "/one") << "1";
  std::ofstream(f.dir.path() + "/two") << "2";
  BOOST_TEST(ok(f.call("fd_readdir", {3, 1000, 4096, 0, 8})));
  uint32_t used = f.u32_at(8);
  std::set<std::string> names;
  uint64_t second_cookie = 0;
  for (uint32_t at = 1000; at < 1000 + used;) {
    uint32_t len = f.u32_at(at + wa::dirent::namlen);
    names.insert(f.get(at + wa::dirent::size, len));
    if (names.size() == 1) second_cookie = f.u64_at(at + wa::dirent::next);
    at += wa::dirent::size + len;
  }
  BOOST_TEST((names == std::set<std::string>{".", "..", "one", "two"}));
  BOOST_TEST(ok(f.call("fd_readdir", {3, 1000, 4096, second_cookie, 8})));
  BOOST_TEST(f.u32_at(8) < used);
  // A buffer too small for everything comes back full.
  BOOST_TEST(ok(f.call("fd_readdir", {3, 1000, 30, 0, 8})));
  BOOST_TEST(f.u32_at(8) == 30u);
}

BOOST_AUTO_TEST_CASE(clock_and_random_fill_guest_memory) {
  WasiFixture f;
  BOOST_TEST(ok(f.call("clock_time_get", {1, 0, 8})));
  uint64_t t1 = f.u64_at(8);
  BOOST_TEST(ok(f.call("clock_time_get", {1, 0, 8})));
  BOOST_TEST(f.u64_at(8) >= t1);
  BOOST_TEST(name(f.call("clock_time_get", {9, 0, 8})) == "INVAL");
  BOOST_TEST(ok(f.call("random_get", {100, 64})));
  BOOST_TEST(std::count(f.memory.begin() + 100, f.memory.begin() + 164, 0) < 16);
  BOOST_TEST(name(f.call("random_get", {65530, 64})) == "FAULT");
}

BOOST_AUTO_TEST_CASE(poll_oneoff_waits_for_a_relative_clock) {
  WasiFixture f;
  uint8_t* s = f.memory.data() + 100;
  uint64_t userdata = 77, timeout = 5'000'000;  // 5 ms
  std::memcpy(s + wa::subscription::userdata, &userdata, 8);
  s[wa::subscription::tag] = wa::subscription::tag_clock;
  std::memcpy(s + wa::subscription::clock_timeout, &timeout, 8);
  BOOST_TEST(ok(f.call("clock_time_get", {1, 0, 8})));
  uint64_t before = f.u64_at(8);
  BOOST_TEST(ok(f.call("poll_oneoff", {100, 300, 1, 16})));
  BOOST_TEST(ok(f.call("clock_time_get", {1, 0, 8})));
  BOOST_TEST(f.u64_at(8) - before >= timeout);
  BOOST_TEST(f.u32_at(16) == 1u);
  BOOST_TEST(f.u64_at(300 + wa::event::userdata) == 77u);
  BOOST_TEST(name(f.call("poll_oneoff", {100, 300, 0, 16})) == "INVAL");
}

BOOST_AUTO_TEST_CASE(proc_exit_records_the_code) {
  WasiFixture f;
  BOOST_TEST(!f.env->exit_code().has_value());
  f.call("proc_exit", {3});
  BOOST_TEST(*f.env->exit_code() == 3u);
}

BOOST_AUTO_TEST_CASE(the_fd_table_has_a_cap) {
  WasiFixture f;
  std::ofstream(f.dir.path() + "/x") << "x";
  uint32_t fd = 0;
  Errno last = Errno::success;
  for (int i = 0; i < 2000 && last == Errno::success; ++i)
    last = f.open("x", 0, right::fd_read, fd);
  BOOST_TEST(name(last) == "MFILE");
  BOOST_TEST(f.env->fds().open_count() == 1024u);
}
