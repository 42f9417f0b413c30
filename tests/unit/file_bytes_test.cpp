// FileBytes on real files, a pipe and a directory.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "cli/file_bytes.h"
#include "tests/support/process.h"

namespace fs = std::filesystem;
using shoal::cli::FileBytes;
using shoal::test::TempDir;
using namespace std::string_literals;

namespace {

std::string write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_regular_file_shows_its_bytes) {
  TempDir dir;
  std::string text(3 * 4096 + 17, '\0');
  for (size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>(i * 7);
  auto f = FileBytes::open(write_file(fs::path(dir.path()) / "m.wasm", text));
  BOOST_REQUIRE_MESSAGE(f.has_value(), (f ? std::string() : f.error()));
  BOOST_TEST(f->view() == text);
  f->prefault();  // maps the pages in; the bytes are the same
  BOOST_TEST(f->view() == text);
  // A mapped file says which file it was, for module_hash_cache.h.
  struct stat st {};
  BOOST_REQUIRE(::stat((fs::path(dir.path()) / "m.wasm").c_str(), &st) == 0);
  BOOST_REQUIRE(f->identity().has_value());
  BOOST_TEST((*f->identity() == shoal::cli::FileIdentity::of(st)));
  BOOST_TEST(f->identity()->size == text.size());
  FileBytes moved = std::move(*f);  // the bytes and the identity go with the object
  BOOST_TEST(moved.view() == text);
  BOOST_TEST(moved.identity().has_value());
  BOOST_TEST(!f->identity().has_value());
}

BOOST_AUTO_TEST_CASE(an_empty_file_is_empty) {
  TempDir dir;
  auto f = FileBytes::open(write_file(fs::path(dir.path()) / "empty", ""));
  BOOST_REQUIRE_MESSAGE(f.has_value(), (f ? std::string() : f.error()));
  BOOST_TEST(f->view().empty());
}

BOOST_AUTO_TEST_CASE(a_pipe_is_read_to_its_end) {
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  const std::string text(200000, 'p');  // more than a pipe holds: read while written
  std::thread writer([&] {
    for (size_t at = 0; at < text.size();) {
      ssize_t n = ::write(fds[1], text.data() + at, text.size() - at);
      if (n <= 0) break;
      at += static_cast<size_t>(n);
    }
    ::close(fds[1]);
  });
  auto f = FileBytes::open("/proc/self/fd/" + std::to_string(fds[0]));
  writer.join();
  ::close(fds[0]);
  BOOST_REQUIRE_MESSAGE(f.has_value(), (f ? std::string() : f.error()));
  BOOST_TEST(f->view() == text);
  BOOST_TEST(!f->identity().has_value());  // read, not mapped: no identity to trust
}

BOOST_AUTO_TEST_CASE(a_directory_or_a_missing_file_is_named_with_the_reason) {
  TempDir dir;
  auto d = FileBytes::open(dir.path());
  BOOST_REQUIRE(!d);
  BOOST_TEST(d.error() == dir.path() + ": is a directory");
  auto m = FileBytes::open(dir.path() + "/nope.wasm");
  BOOST_REQUIRE(!m);
  BOOST_TEST(m.error() == dir.path() + "/nope.wasm: No such file or directory");
}

BOOST_AUTO_TEST_CASE(held_bytes_are_shown_as_given) {
  FileBytes b = FileBytes::hold("\0asm\1\0\0\0"s);
  BOOST_TEST(b.view() == "\0asm\1\0\0\0"s);
  BOOST_TEST(!b.identity().has_value());  // no file to name
}
