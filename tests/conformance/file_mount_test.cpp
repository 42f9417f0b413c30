// Single-file mounts: a host regular file offered to the guest, read-only,
// at a guest path, through a private staged directory preopened at the
// guest parent (wasi/mount_plan.h, wasi/staged_dir.h). The first cases call
// the WASI functions on an Environment directly; the last ones run
// `shoal exec --dir FILE::/GUEST/FILE`.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "tests/support/print.h"
#include "tests/support/process.h"
#include "wasi/abi.h"
#include "wasi/environment.h"
#include "wasi/functions.h"
#include "wasi/mount_plan.h"

namespace fs = std::filesystem;
namespace wa = shoal::wasi::abi;
using shoal::test::required_env;
using shoal::test::run_process;
using shoal::test::TempDir;
using shoal::wasi::Errno;
using shoal::wasi::Mount;

namespace {

void write_file(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

std::string name(Errno e) {
  return std::string(shoal::wasi::errno_name(e));
}

// An Environment over `mounts`, with a byte vector as guest memory.
struct Guest {
  TempDir scratch;
  std::vector<uint8_t> memory = std::vector<uint8_t>(65536);
  shoal::wasi::GuestMemory mem{memory.data(), memory.size()};
  shoal::wasi::BufferSink out, err;
  std::unique_ptr<shoal::wasi::Environment> env;
  std::string error;

  explicit Guest(std::vector<Mount> mounts) {
    shoal::wasi::Config c;
    c.args = {"prog"};
    c.mounts = std::move(mounts);
    c.scratch_dir = scratch.path();
    c.stdout_sink = &out;
    c.stderr_sink = &err;
    auto e = shoal::wasi::Environment::create(c);
    if (e)
      env = std::move(*e);
    else
      error = e.error();
  }

  Errno call(std::string_view fn, std::vector<uint64_t> args) {
    args.resize(16);
    return shoal::wasi::find_function(fn)->handler(*env, mem, args.data());
  }
  uint32_t put(uint32_t at, std::string_view s) {
    std::memcpy(memory.data() + at, s.data(), s.size());
    return static_cast<uint32_t>(s.size());
  }
  uint32_t u32_at(uint32_t at) const {
    uint32_t v;
    std::memcpy(&v, memory.data() + at, 4);
    return v;
  }
  uint64_t u64_at(uint32_t at) const {
    uint64_t v;
    std::memcpy(&v, memory.data() + at, 8);
    return v;
  }
  // The preopen name of fd, or the errno's name.
  std::string preopen_name(uint32_t fd) {
    Errno e = call("fd_prestat_get", {fd, 0});
    if (e != Errno::success) return name(e);
    uint32_t len = u32_at(4);
    call("fd_prestat_dir_name", {fd, 100, len});
    return std::string(reinterpret_cast<char*>(memory.data() + 100), len);
  }
  // path_open beneath fd 3; the new fd is at 900.
  Errno open(std::string_view path, uint64_t rights, uint32_t oflags = 0) {
    uint32_t len = put(1000, path);
    return call("path_open", {3, 1, 1000, len, oflags, rights, rights, 0, 900});
  }
  // The whole content of a file beneath fd 3 (at most 200 bytes).
  std::string read(std::string_view path) {
    if (Errno e = open(path, wa::right::fd_read); e != Errno::success) return name(e);
    uint32_t fd = u32_at(900);
    uint32_t iov[2] = {2000, 200};
    std::memcpy(memory.data() + 16, iov, sizeof iov);
    Errno e = call("fd_read", {fd, 16, 1, 24});
    call("fd_close", {fd});
    if (e != Errno::success) return name(e);
    return std::string(reinterpret_cast<char*>(memory.data() + 2000), u32_at(24));
  }
};

struct Files {
  TempDir dir;
  std::string data = dir.path() + "/data.txt", other = dir.path() + "/other.csv";
  Files() {
    write_file(data, "hello\n");
    write_file(other, "a,b\n1,2\n");
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_file_is_seen_at_its_guest_path_through_its_parent) {
  Files f;
  Guest g({{f.data, "/inputs/data.txt", true}});
  BOOST_TEST_REQUIRE(g.env, g.error);
  BOOST_TEST(g.preopen_name(3) == "/inputs");
  BOOST_TEST(g.read("data.txt") == "hello\n");
  uint32_t len = g.put(1000, "data.txt");
  BOOST_TEST(name(g.call("path_filestat_get", {3, 1, 1000, len, 1200})) == "SUCCESS");
  BOOST_TEST(g.memory[1200 + wa::filestat::filetype] == uint8_t(wa::Filetype::regular_file));
  BOOST_TEST(g.u64_at(1200 + wa::filestat::fsize) == 6u);
}

BOOST_AUTO_TEST_CASE(a_mounted_file_is_read_only_even_without_ro) {
  Files f;
  Guest g({{f.data, "/inputs/data.txt", false}});
  BOOST_TEST_REQUIRE(g.env, g.error);
  BOOST_TEST(name(g.open("data.txt", wa::right::fd_write)) == "ROFS");
  BOOST_TEST(name(g.open("data.txt", wa::right::fd_read, wa::oflag::trunc)) == "ROFS");
  BOOST_TEST(name(g.open("new.txt", wa::right::fd_write, wa::oflag::creat)) == "ROFS");
  uint32_t len = g.put(1000, "data.txt");
  BOOST_TEST(name(g.call("path_unlink_file", {3, 1000, len})) == "ROFS");
  BOOST_TEST(name(g.call("path_filestat_set_times",
                         {3, 0, 1000, len, 0, 0, wa::fstflag::mtim_now})) == "ROFS");
  uint32_t to = g.put(1100, "moved.txt");
  BOOST_TEST(name(g.call("path_rename", {3, 1000, len, 3, 1100, to})) == "ROFS");
  // Opened for reading, the fd holds no right that writes.
  BOOST_TEST_REQUIRE(name(g.open("data.txt", wa::right::fd_read | wa::right::fd_filestat_set_times |
                                                 wa::right::fd_sync)) == "SUCCESS");
  BOOST_TEST(name(g.call("fd_filestat_set_times", {g.u32_at(900), 0, 0, wa::fstflag::mtim_now})) ==
             "NOTCAPABLE");
  std::ifstream in(f.data);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_TEST(content == "hello\n");
}

BOOST_AUTO_TEST_CASE(files_under_one_guest_directory_share_one_preopen) {
  Files f;
  Guest g({{f.data, "/inputs/data.txt", true},
           {f.dir.path(), "/work", false},
           {f.other, "/inputs//table.csv", true},
           {f.other, "/top.csv", true}});
  BOOST_TEST_REQUIRE(g.env, g.error);
  BOOST_TEST(g.preopen_name(3) == "/inputs");
  BOOST_TEST(g.preopen_name(4) == "/work");
  BOOST_TEST(g.preopen_name(5) == "/");
  BOOST_TEST(g.preopen_name(6) == "BADF");
  BOOST_TEST(g.read("table.csv") == "a,b\n1,2\n");
  BOOST_TEST(g.read("data.txt") == "hello\n");
}

BOOST_AUTO_TEST_CASE(a_file_is_hard_linked_when_it_can_be) {
  Files f;
  Guest g({{f.data, "/inputs/data.txt", true}});
  BOOST_TEST_REQUIRE(g.env, g.error);
  struct stat host;
  BOOST_TEST_REQUIRE(::stat(f.data.c_str(), &host) == 0);
  BOOST_TEST(host.st_nlink == 2u);
  // The guest sees the host's file itself: a later host write shows.
  write_file(f.data, "changed\n");
  BOOST_TEST(g.read("data.txt") == "changed\n");
}

BOOST_AUTO_TEST_CASE(a_file_on_another_file_system_is_copied) {
  // /dev/shm is its own mount, so link() from it into the scratch directory
  // (under the temporary directory) fails with EXDEV.
  std::string tmpl = "/dev/shm/shoal-test-XXXXXX";
  BOOST_TEST_REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  struct Cleanup {
    std::string path;
    ~Cleanup() { fs::remove_all(path); }
  } cleanup{tmpl};
  const std::string file = tmpl + "/shm.txt";
  write_file(file, "from shm\n");
  Guest g({{file, "/in/shm.txt", true}});
  BOOST_TEST_REQUIRE(g.env, g.error);
  struct stat a, b;
  BOOST_TEST_REQUIRE(::stat(file.c_str(), &a) == 0);
  BOOST_TEST_REQUIRE(::stat(g.scratch.path().c_str(), &b) == 0);
  BOOST_TEST_REQUIRE(a.st_dev != b.st_dev, "/dev/shm and the scratch directory share a device");
  BOOST_TEST(a.st_nlink == 1u);
  BOOST_TEST(g.read("shm.txt") == "from shm\n");
  // A copy is a snapshot.
  write_file(file, "changed\n");
  BOOST_TEST(g.read("shm.txt") == "from shm\n");
}

BOOST_AUTO_TEST_CASE(a_symlink_to_a_file_is_mounted_as_the_file) {
  Files f;
  const std::string link = f.dir.path() + "/link";
  fs::create_symlink(f.data, link);
  Guest g({{link, "/inputs/linked.txt", true}});
  BOOST_TEST_REQUIRE(g.env, g.error);
  BOOST_TEST(g.read("linked.txt") == "hello\n");
  uint32_t len = g.put(1000, "linked.txt");
  BOOST_TEST(name(g.call("path_filestat_get", {3, 0, 1000, len, 1200})) == "SUCCESS");
  BOOST_TEST(g.memory[1200 + wa::filestat::filetype] == uint8_t(wa::Filetype::regular_file));
}

BOOST_AUTO_TEST_CASE(the_staged_directory_is_removed_with_the_environment) {
  Files f;
  auto g = std::make_unique<Guest>(
      std::vector<Mount>{{f.data, "/a/data.txt", true}, {f.other, "/b/other.csv", true}});
  BOOST_TEST_REQUIRE(g->env, g->error);
  BOOST_TEST(std::distance(fs::directory_iterator(g->scratch.path()), fs::directory_iterator()) ==
             2);
  g->env.reset();
  BOOST_TEST(fs::is_empty(g->scratch.path()));
  // The host's files are untouched.
  BOOST_TEST(fs::exists(f.data));
  BOOST_TEST(fs::hard_link_count(f.data) == 1u);
}

BOOST_AUTO_TEST_CASE(two_mounts_claiming_one_guest_directory_are_refused_naming_both) {
  Files f;
  const std::string d = f.dir.path();
  struct Case {
    std::vector<Mount> mounts;
    std::string error;
  };
  const std::vector<Case> cases = {
      {{{d, "/inputs", true}, {f.data, "/inputs/data.txt", true}},
       "mount " + d + " at /inputs and mount " + f.data +
           " at /inputs/data.txt both claim the guest directory /inputs"},
      {{{f.data, "/inputs/data.txt", true}, {d, "/inputs/", false}},
       "mount " + f.data + " at /inputs/data.txt and mount " + d +
           " at /inputs/ both claim the guest directory /inputs"},
      {{{d, "/data", true}, {d, "/./data", true}},
       "mount " + d + " at /data and mount " + d +
           " at /./data both claim the guest directory /data"},
      {{{f.data, "/in/x.txt", true}, {f.other, "/in//x.txt", true}},
       "mount " + f.data + " at /in/x.txt and mount " + f.other +
           " at /in//x.txt both claim the guest file /in/x.txt"},
      {{{f.data, "/inputs/", true}},
       "mount " + f.data + " at /inputs/: a file's guest path must end in a file name"},
      {{{f.data, "/", true}},
       "mount " + f.data + " at /: a file's guest path must end in a file name"},
      {{{"/dev/null", "/dev/null", true}},
       "mount /dev/null at /dev/null: not a directory or a regular file"},
      {{{d + "/missing.txt", "/in/missing.txt", true}},
       "mount " + d + "/missing.txt at /in/missing.txt: No such file or directory"},
  };
  for (const Case& c : cases) {
    Guest g(c.mounts);
    BOOST_TEST(!g.env);
    BOOST_TEST(g.error == c.error);
    BOOST_TEST(fs::is_empty(g.scratch.path()));
  }
}

BOOST_AUTO_TEST_CASE(guest_paths_are_compared_normalised) {
  using shoal::wasi::normalize_guest_path;
  BOOST_TEST(normalize_guest_path("/a//./b/") == "/a/b");
  BOOST_TEST(normalize_guest_path("/") == "/");
  BOOST_TEST(normalize_guest_path("//") == "/");
  BOOST_TEST(normalize_guest_path("") == ".");
  BOOST_TEST(normalize_guest_path("./") == ".");
  BOOST_TEST(normalize_guest_path("data/") == "data");
  BOOST_TEST(normalize_guest_path("a/../b") == "a/../b");
}

BOOST_AUTO_TEST_CASE(shoal_exec_mounts_a_file_given_by_a_relative_path) {
  Files f;
  TempDir tmp;  // the worker's $TMPDIR: the staged directory goes there
  const std::string guest = required_env("SHOAL_CONFORMANCE_DIR") + "/mounted_files.wasm";
  auto r = run_process({"/bin/sh", "-c",
                        "cd \"$1\" && TMPDIR=\"$2\" exec \"$3\" exec --dir "
                        "./data.txt::/inputs/data.txt:ro --dir other.csv::/inputs/other.csv "
                        "\"$4\" /inputs/data.txt /inputs/other.csv",
                        "sh", f.dir.path(), tmp.path(), required_env("SHOAL_BIN"), guest});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.err == "");
  BOOST_TEST(r.out ==
             "read /inputs/data.txt: hello\n (file, 6 bytes)\n"
             "append /inputs/data.txt: Read-only file system\n"
             "unlink /inputs/data.txt: Read-only file system\n"
             "create /inputs/new.txt: Read-only file system\n"
             "ls /inputs: . .. data.txt other.csv\n"
             "read /inputs/other.csv: a,b\n1,2\n (file, 8 bytes)\n"
             "append /inputs/other.csv: Read-only file system\n"
             "unlink /inputs/other.csv: Read-only file system\n"
             "create /inputs/new.txt: Read-only file system\n"
             "ls /inputs: . .. data.txt other.csv\n");
  BOOST_TEST(fs::is_empty(tmp.path()));
  BOOST_TEST(fs::hard_link_count(f.data) == 1u);
}

BOOST_AUTO_TEST_CASE(shoal_exec_refuses_a_file_over_a_mounted_directory) {
  Files f;
  auto r = run_process({required_env("SHOAL_BIN"), "exec", "--dir", f.dir.path() + "::/inputs",
                        "--dir", f.data + "::/inputs/data.txt:ro",
                        required_env("SHOAL_CONFORMANCE_DIR") + "/mounted_files.wasm"});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.out == "");
  BOOST_TEST(r.err == "shoal: mount " + f.dir.path() + " at /inputs and mount " + f.data +
                          " at /inputs/data.txt both claim the guest directory /inputs\n");
}
