// tree.h: walking and removing a guest's trees through directory
// descriptors, past PATH_MAX, without following links.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include "broker/tree.h"

namespace fs = std::filesystem;
using namespace shoal;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/shoal-tree-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { (void)tree::remove_all(path); }
};

// Nests `depth` directories named `name` below `dir` (each made from the
// one above, so no path is long) and writes "bottom" into the last one.
void nest(const std::string& dir, int depth, const std::string& name) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  for (int i = 0; i < depth; ++i) {
    BOOST_REQUIRE(::mkdirat(fd, name.c_str(), 0755) == 0);
    int child = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY);
    BOOST_REQUIRE(child >= 0);
    ::close(fd);
    fd = child;
  }
  int f = ::openat(fd, "bottom", O_WRONLY | O_CREAT, 0644);
  BOOST_REQUIRE(f >= 0 && ::write(f, "b", 1) == 1);
  ::close(f);
  ::close(fd);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_walk_meets_every_entry_and_reads_files_without_following_links) {
  TempDir t;
  fs::create_directories(t.path + "/a/b");
  {
    FILE* f = std::fopen((t.path + "/a/b/f.txt").c_str(), "w");
    std::fputs("data", f);
    std::fclose(f);
  }
  fs::create_symlink("/etc/hostname", t.path + "/a/link");
  int fd = ::open(t.path.c_str(), O_RDONLY | O_DIRECTORY);
  std::set<std::string> seen;
  std::string data;
  auto report = tree::walk(fd, 4096, [&](const tree::Entry& e) {
    seen.insert(e.rel + (S_ISDIR(e.st.st_mode) ? "/" : S_ISLNK(e.st.st_mode) ? "@" : ""));
    if (S_ISREG(e.st.st_mode)) data = *tree::read_file_at(e.dir_fd, e.name, 100);
    return tree::Visit::go_on;
  });
  ::close(fd);
  BOOST_TEST((seen == std::set<std::string>{"a/", "a/b/", "a/b/f.txt", "a/link@"}));
  BOOST_TEST(data == "data");
  BOOST_TEST(report.entries == 4u);
  BOOST_TEST(report.error == "");
}

BOOST_AUTO_TEST_CASE(a_tree_past_path_max_is_walked_and_removed) {
  TempDir t;
  nest(t.path, 500, std::string(20, 'n'));  // 10,500 bytes deep
  int fd = ::open(t.path.c_str(), O_RDONLY | O_DIRECTORY);
  std::string bottom;
  auto report = tree::walk(fd, 1 << 20, [&](const tree::Entry& e) {
    if (S_ISREG(e.st.st_mode)) bottom = e.rel;
    return tree::Visit::go_on;
  });
  ::close(fd);
  BOOST_TEST(bottom.size() == 500u * 21 + 6);
  BOOST_TEST(report.too_long == 0u);
  BOOST_TEST(tree::remove_all(t.path).has_value());
  BOOST_TEST(!fs::exists(t.path));
}

BOOST_AUTO_TEST_CASE(directories_past_the_path_limit_are_reported_not_entered) {
  TempDir t;
  nest(t.path, 10, "dddd");
  int fd = ::open(t.path.c_str(), O_RDONLY | O_DIRECTORY);
  uint64_t files = 0;
  auto report = tree::walk(fd, 12, [&](const tree::Entry& e) {
    files += S_ISREG(e.st.st_mode);
    return tree::Visit::go_on;
  });
  ::close(fd);
  BOOST_TEST(files == 0u);
  BOOST_TEST(report.too_long == 1u);
  BOOST_TEST(report.first_too_long == "dddd/dddd/dddd");
}

BOOST_AUTO_TEST_CASE(read_file_at_refuses_links_fifos_and_files_over_the_limit) {
  TempDir t;
  {
    FILE* f = std::fopen((t.path + "/big").c_str(), "w");
    std::fputs("0123456789", f);
    std::fclose(f);
  }
  fs::create_symlink("big", t.path + "/link");
  BOOST_REQUIRE(::mkfifo((t.path + "/fifo").c_str(), 0644) == 0);
  int fd = ::open(t.path.c_str(), O_RDONLY | O_DIRECTORY);
  BOOST_TEST(tree::read_file_at(fd, "big", 5).error() == "larger than 5 bytes");
  BOOST_TEST(*tree::read_file_at(fd, "big", 10) == "0123456789");
  BOOST_TEST(!tree::read_file_at(fd, "link", 100).has_value());
  BOOST_TEST(tree::read_file_at(fd, "fifo", 100).error() == "not a regular file");  // no hang
  ::close(fd);
}

BOOST_AUTO_TEST_CASE(remove_all_of_a_missing_path_or_a_file_is_fine) {
  TempDir t;
  BOOST_TEST(tree::remove_all(t.path + "/none").has_value());
  {
    FILE* f = std::fopen((t.path + "/f").c_str(), "w");
    std::fclose(f);
  }
  BOOST_TEST(tree::remove_all(t.path + "/f").has_value());
  BOOST_TEST(!fs::exists(t.path + "/f"));
}
