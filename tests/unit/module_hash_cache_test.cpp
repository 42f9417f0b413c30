// The cache of module files' SHA-256, on real files: what it trusts and
// what it refuses.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "cli/module_hash_cache.h"
#include "tests/support/process.h"

using shoal::cli::FileIdentity;
using shoal::cli::ModuleHashCache;

namespace {

const std::string kHash(64, 'a');

FileIdentity identity(const std::string& path) {
  struct stat st {};
  BOOST_TEST_REQUIRE(::stat(path.c_str(), &st) == 0);
  return FileIdentity::of(st);
}

// A file written, then left alone for longer than the cache's settle time.
std::string settled_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
  std::this_thread::sleep_for(ModuleHashCache::kSettle + std::chrono::milliseconds(50));
  return path;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_remembered_hash_is_found_for_the_same_file_only) {
  shoal::test::TempDir d;
  ModuleHashCache cache(d.path() + "/cache");
  auto a = settled_file(d.path() + "/a.wasm", "module a");
  auto b = settled_file(d.path() + "/b.wasm", "module b");
  BOOST_TEST(!cache.lookup(identity(a)).has_value());
  cache.remember(identity(a), kHash);
  BOOST_TEST(cache.lookup(identity(a)).value_or("") == kHash);
  BOOST_TEST(!cache.lookup(identity(b)).has_value());
}

BOOST_AUTO_TEST_CASE(a_file_rewritten_in_place_with_its_size_and_mtime_kept_is_hashed_again) {
  shoal::test::TempDir d;
  ModuleHashCache cache(d.path() + "/cache");
  auto a = settled_file(d.path() + "/a.wasm", "module a");
  const FileIdentity before = identity(a);
  cache.remember(before, kHash);
  std::ofstream(a, std::ios::binary | std::ios::trunc) << "module z";  // same inode, same size
  struct timespec times[2] = {{0, UTIME_OMIT},
                              {static_cast<time_t>(before.mtime_ns / 1'000'000'000),
                               static_cast<long>(before.mtime_ns % 1'000'000'000)}};
  BOOST_TEST_REQUIRE(::utimensat(AT_FDCWD, a.c_str(), times, 0) == 0);
  const FileIdentity after = identity(a);
  BOOST_TEST_REQUIRE(after.inode == before.inode);
  BOOST_TEST_REQUIRE(after.size == before.size);
  BOOST_TEST_REQUIRE(after.mtime_ns == before.mtime_ns);
  BOOST_TEST(!cache.lookup(after).has_value());  // its ctime moved
}

BOOST_AUTO_TEST_CASE(a_file_changed_just_now_is_not_remembered) {
  shoal::test::TempDir d;
  ModuleHashCache cache(d.path() + "/cache");
  const std::string a = d.path() + "/a.wasm";
  std::ofstream(a, std::ios::binary) << "module a";
  // Its mtime a second ahead, so that a slow machine cannot make the write
  // look settled before remember() runs.
  struct timespec times[2] = {{0, UTIME_OMIT}, {::time(nullptr) + 1, 0}};
  BOOST_TEST_REQUIRE(::utimensat(AT_FDCWD, a.c_str(), times, 0) == 0);
  cache.remember(identity(a), kHash);
  // Another write in the same clock tick would leave the times as they are.
  BOOST_TEST(!cache.lookup(identity(a)).has_value());
}

BOOST_AUTO_TEST_CASE(a_damaged_entry_is_not_trusted) {
  shoal::test::TempDir d;
  ModuleHashCache cache(d.path() + "/cache");
  auto a = settled_file(d.path() + "/a.wasm", "module a");
  cache.remember(identity(a), kHash);
  BOOST_TEST_REQUIRE(cache.lookup(identity(a)).has_value());
  for (const auto& entry : std::filesystem::directory_iterator(d.path() + "/cache")) {
    std::string text = shoal::test::read_file(entry.path());
    text[text.size() - 5] = 'X';  // not a hex digit
    std::ofstream(entry.path(), std::ios::trunc) << text;
  }
  BOOST_TEST(!cache.lookup(identity(a)).has_value());
}

BOOST_AUTO_TEST_CASE(a_cache_that_cannot_be_written_is_skipped) {
  shoal::test::TempDir d;
  std::ofstream(d.path() + "/cache") << "a file where the directory should be";
  ModuleHashCache cache(d.path() + "/cache");
  auto a = settled_file(d.path() + "/a.wasm", "module a");
  cache.remember(identity(a), kHash);  // nothing to write into: no error either
  BOOST_TEST(!cache.lookup(identity(a)).has_value());
  BOOST_TEST(shoal::test::read_file(d.path() + "/cache") == "a file where the directory should be");
}
