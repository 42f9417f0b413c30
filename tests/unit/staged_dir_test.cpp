// StagedDir on real files in a private temporary directory.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "tests/support/process.h"
#include "wasi/staged_dir.h"

namespace fs = std::filesystem;
using shoal::test::TempDir;
using shoal::wasi::StagedDir;

namespace {

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_file_is_linked_in_under_its_new_name) {
  TempDir tmp;
  fs::path src = fs::path(tmp.path()) / "data.txt";
  write_file(src, "hello\n");
  auto staged = StagedDir::create(tmp.path());
  BOOST_TEST_REQUIRE(staged.has_value(), (staged ? "" : staged.error()));
  auto added = staged->add(src.string(), "input");
  BOOST_TEST_REQUIRE(added.has_value(), (added ? "" : added.error()));
  fs::path placed = fs::path(staged->path()) / "input";
  BOOST_TEST(read_file(placed) == "hello\n");
  BOOST_TEST(fs::equivalent(placed, src));  // a link, not a copy
}

BOOST_AUTO_TEST_CASE(a_missing_file_fails_naming_the_cause) {
  TempDir tmp;
  auto staged = StagedDir::create(tmp.path());
  BOOST_TEST_REQUIRE(staged.has_value());
  auto added = staged->add(tmp.path() + "/absent", "input");
  BOOST_TEST_REQUIRE(!added.has_value());
  BOOST_TEST(added.error() == "No such file or directory");
}

BOOST_AUTO_TEST_CASE(the_directory_is_removed_with_the_object) {
  TempDir tmp;
  std::string path;
  {
    auto staged = StagedDir::create(tmp.path());
    BOOST_TEST_REQUIRE(staged.has_value());
    path = staged->path();
    write_file(fs::path(tmp.path()) / "f", "x");
    BOOST_TEST_REQUIRE(staged->add(tmp.path() + "/f", "f").has_value());
  }
  BOOST_TEST(!fs::exists(path));
}

// Regression (found by worker_faults in CI): a URL cache blob renamed over
// by a second download of the same bytes made linkat fail with ENOENT, and
// the job with it, although the name never stopped existing. Another
// thread renames fresh files over the source for as long as the test adds.
BOOST_AUTO_TEST_CASE(a_file_renamed_over_while_it_is_added_is_still_staged) {
  TempDir tmp;
  fs::path src = fs::path(tmp.path()) / "blob";
  write_file(src, "same bytes\n");
  std::atomic<bool> stop{false};
  std::thread renamer([&] {
    for (int i = 0; !stop; ++i) {
      fs::path next = fs::path(tmp.path()) / ("incoming." + std::to_string(i));
      write_file(next, "same bytes\n");
      fs::rename(next, src);
    }
  });
  // A directory of its own per add: a link kept from an earlier add would
  // keep the renamed-over file alive, and the race needs its last link.
  int failures = 0;
  std::string first_error;
  std::string last_text;
  for (int i = 0; i < 4000; ++i) {
    auto staged = StagedDir::create(tmp.path());
    BOOST_TEST_REQUIRE(staged.has_value(), (staged ? "" : staged.error()));
    auto added = staged->add(src.string(), "f");
    if (!added && failures++ == 0) first_error = added.error();
    if (added) last_text = read_file(fs::path(staged->path()) / "f");
  }
  stop = true;
  renamer.join();
  BOOST_TEST(failures == 0, failures << " of 4000 adds failed; the first: " << first_error);
  BOOST_TEST(last_text == "same bytes\n");
}
