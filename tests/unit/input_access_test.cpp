// Who may name host paths as inputs (broker/input_access.h): a local client
// anything but the state directory, a remote client only what lies inside a
// data root, walked without following symbolic links.
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>

#include "broker/input_access.h"

namespace b = shoal::broker;
namespace fs = std::filesystem;

namespace {

// base/state (the state directory), base/data (a data root) holding
// file.txt, sub/leaf.txt, a FIFO, a link out of the root and one inside it;
// base/alias, a symlink to base/data.
struct Tree {
  std::string base;
  shoal::host::StateDir dir;
  std::string data;
  Tree() {
    char tmpl[] = "/tmp/shoal-input-access-test.XXXXXX";
    base = fs::canonical(::mkdtemp(tmpl)).string();
    dir.root = base + "/state";
    data = base + "/data";
    fs::create_directories(dir.root + "/keys");
    fs::create_directories(data + "/sub");
    std::ofstream(data + "/file.txt") << "x";
    std::ofstream(data + "/sub/leaf.txt") << "y";
    std::ofstream(dir.root + "/keys/server.key") << "secret";
    ::mkfifo((data + "/fifo").c_str(), 0600);
    fs::create_symlink("/etc/hostname", data + "/out");
    fs::create_symlink("file.txt", data + "/in");
    fs::create_directory_symlink(data, base + "/alias");
  }
  ~Tree() { fs::remove_all(base); }
  b::InputAccess access(std::vector<std::string> roots) {
    auto a = b::InputAccess::make(dir, roots);
    BOOST_REQUIRE_MESSAGE(a, (a ? "" : a.error()));
    return *a;
  }
};

std::string refusal(const std::expected<std::string, std::string>& r) {
  return r ? "(accepted: " + *r + ")" : r.error();
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_local_client_names_any_path_but_the_state_directory) {
  Tree t;
  auto a = t.access({});
  BOOST_TEST(*a.check(b::Origin::local, t.data + "/out") == t.data + "/out");
  BOOST_TEST(*a.check(b::Origin::local, "/etc/hostname") == "/etc/hostname");
  const std::string inside = "inside the broker's state directory " + t.dir.root +
                             ", which holds its keys and store and is never an input";
  BOOST_TEST(refusal(a.check(b::Origin::local, t.dir.root + "/keys/server.key")) == inside);
  BOOST_TEST(refusal(a.check(b::Origin::local, t.dir.root)) == inside);
  BOOST_TEST(refusal(a.check(b::Origin::local, t.dir.root + "/keys/../keys")) == inside);
  BOOST_TEST(refusal(a.check(b::Origin::local, t.base)) ==
             "holds the broker's state directory " + t.dir.root +
                 " (its keys and store), which is never an input; name a directory beside it");
  BOOST_TEST(refusal(a.check(b::Origin::local, "/")).starts_with("holds the broker's state"));
  BOOST_TEST(refusal(a.check(b::Origin::local, t.base + "/nothing")) ==
             "no such file or directory");
  BOOST_TEST(refusal(a.check(b::Origin::local, "relative/path")) == "not an absolute path");
  BOOST_TEST(refusal(a.check(b::Origin::local, std::string("/etc/hostname\0x", 15))) ==
             "contains a NUL byte");
}

BOOST_AUTO_TEST_CASE(a_remote_client_without_data_roots_names_nothing) {
  Tree t;
  auto a = t.access({});
  BOOST_TEST(refusal(a.check(b::Origin::remote, t.data + "/file.txt")) ==
             "clients over TCP may not name paths on the broker's host: this broker has no data "
             "roots (shoal serve --data-root DIR)");
}

BOOST_AUTO_TEST_CASE(a_remote_client_names_what_lies_inside_a_data_root_by_its_real_path) {
  Tree t;
  auto a = t.access({t.base + "/alias"});  // a root given through a symlink
  BOOST_TEST(a.data_roots() == std::vector<std::string>{t.data});
  BOOST_TEST(*a.check(b::Origin::remote, t.data + "/file.txt") == t.data + "/file.txt");
  BOOST_TEST(*a.check(b::Origin::remote, t.base + "/alias/sub/leaf.txt") ==
             t.data + "/sub/leaf.txt");
  BOOST_TEST(*a.check(b::Origin::remote, t.base + "/alias//sub/./") == t.data + "/sub");
  BOOST_TEST(*a.check(b::Origin::remote, t.base + "/alias") == t.data);
}

BOOST_AUTO_TEST_CASE(a_remote_client_is_refused_links_dotdot_and_special_files) {
  Tree t;
  auto a = t.access({t.data});
  const std::string link =
      " is a symbolic link: inside a data root no link is followed, since it could lead out of "
      "the root";
  BOOST_TEST(refusal(a.check(b::Origin::remote, t.data + "/out")) == t.data + "/out" + link);
  BOOST_TEST(refusal(a.check(b::Origin::remote, t.data + "/in")) == t.data + "/in" + link);
  BOOST_TEST(refusal(a.check(b::Origin::remote, t.data + "/sub/../file.txt")) ==
             "'..' is not allowed in a path inside a data root");
  BOOST_TEST(refusal(a.check(b::Origin::remote, t.data + "/fifo")) ==
             "neither a regular file nor a directory");
  BOOST_TEST(refusal(a.check(b::Origin::remote, t.data + "/file.txt/x")) ==
             t.data + "/file.txt is not a directory");
  BOOST_TEST(refusal(a.check(b::Origin::remote, t.data + "/none")) == "no such file or directory");
  const std::string outside =
      "outside the broker's data roots (" + t.data + "), the only places clients over TCP may read";
  BOOST_TEST(refusal(a.check(b::Origin::remote, t.dir.root + "/keys/server.key")) == outside);
  BOOST_TEST(refusal(a.check(b::Origin::remote, t.data + "x/file.txt")) == outside);
  BOOST_TEST(refusal(a.check(b::Origin::remote, "/etc/hostname")) == outside);
}

BOOST_AUTO_TEST_CASE(a_data_root_must_be_a_directory_beside_the_state_directory) {
  Tree t;
  auto make = [&](const std::string& root) {
    auto a = b::InputAccess::make(t.dir, {root});
    return a ? std::string("(accepted)") : a.error();
  };
  BOOST_TEST(make(t.base) == "--data-root " + t.base + " holds the broker's state directory " +
                                 t.dir.root +
                                 ": clients over TCP could read its keys; give a directory beside "
                                 "it");
  BOOST_TEST(make(t.dir.root + "/keys") == "--data-root " + t.dir.root +
                                               "/keys lies inside the broker's state directory " +
                                               t.dir.root + ", which is never an input");
  BOOST_TEST(make(t.data + "/file.txt") == "--data-root " + t.data + "/file.txt: not a directory");
  BOOST_TEST(make(t.base + "/none") == "--data-root " + t.base + "/none: no such directory");
  BOOST_TEST(make("data") == "--data-root data: not an absolute path");
}
