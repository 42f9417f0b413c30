// CURVE keys in the state directory: made once, authorised by role, listed,
// removed; malformed keys and taken names refused.
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "host/keys.h"

namespace b = shoal::host;

namespace {

struct TempState {
  b::StateDir dir;
  TempState() {
    char tmpl[] = "/tmp/shoal-keys-test.XXXXXX";
    dir.root = ::mkdtemp(tmpl);
  }
  ~TempState() { std::filesystem::remove_all(dir.root); }
};

mode_t mode_of(const std::string& path) {
  struct stat st {};
  ::stat(path.c_str(), &st);
  return st.st_mode & 0777;
}

}  // namespace

BOOST_AUTO_TEST_CASE(server_keys_are_made_once_and_kept_private) {
  TempState t;
  auto first = b::server_keys(t.dir);
  BOOST_REQUIRE(first);
  BOOST_TEST(first->public_key.size() == 40u);
  BOOST_TEST(b::valid_key(first->public_key));
  auto again = b::server_keys(t.dir);
  BOOST_REQUIRE(again);
  BOOST_TEST(again->public_key == first->public_key);
  BOOST_TEST(again->secret_key == first->secret_key);
  BOOST_TEST(mode_of(t.dir.root + "/keys") == 0700u);
  BOOST_TEST(mode_of(t.dir.root + "/keys/server.key") == 0600u);
}

BOOST_AUTO_TEST_CASE(identity_is_not_made_unless_asked) {
  TempState t;
  auto missing = b::identity_keys(t.dir, false);
  BOOST_REQUIRE(!missing);
  BOOST_TEST(missing.error().find("run `shoal keys generate`") != std::string::npos);
  auto made = b::identity_keys(t.dir, true);
  BOOST_REQUIRE(made);
  BOOST_TEST(b::identity_keys(t.dir, false)->public_key == made->public_key);
}

BOOST_AUTO_TEST_CASE(keys_are_authorised_per_role) {
  TempState t;
  std::string worker = b::identity_keys(t.dir, true)->public_key;
  BOOST_TEST(b::add_key(t.dir, b::KeyRole::worker, worker, "w1").value() == "w1");
  BOOST_TEST(b::authorised_name(t.dir, b::KeyRole::worker, worker) == "w1");
  BOOST_TEST(b::authorised_name(t.dir, b::KeyRole::client, worker) == "");
  BOOST_TEST(mode_of(t.dir.root + "/keys/workers/w1") == 0600u);
  auto listed = b::list_keys(t.dir);
  BOOST_REQUIRE(listed.size() == 1u);
  BOOST_TEST(listed[0].name == "w1");
  BOOST_TEST(listed[0].public_key == worker);
}

BOOST_AUTO_TEST_CASE(default_name_is_the_keys_first_letters_and_digits) {
  TempState t;
  std::string key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
  BOOST_REQUIRE(b::valid_key(key));
  BOOST_TEST(b::add_key(t.dir, b::KeyRole::client, key, "").value() == "rqrMULns");
}

BOOST_AUTO_TEST_CASE(removing_by_name_or_key) {
  TempState t;
  std::string key = b::server_keys(t.dir)->public_key;
  (void)b::add_key(t.dir, b::KeyRole::client, key, "laptop");
  auto removed = b::remove_key(t.dir, key);
  BOOST_REQUIRE(removed);
  BOOST_TEST(removed->name == "laptop");
  BOOST_TEST(b::authorised_name(t.dir, b::KeyRole::client, key) == "");
  BOOST_TEST(b::remove_key(t.dir, "laptop").error() ==
             "no authorised key is named or equal to 'laptop' (see shoal keys list)");
}

BOOST_AUTO_TEST_CASE(malformed_keys_and_taken_names_are_refused) {
  TempState t;
  BOOST_TEST(b::add_key(t.dir, b::KeyRole::client, "short", "x")
                 .error()
                 .starts_with("'short' is not a CURVE public key"));
  std::string one = b::server_keys(t.dir)->public_key;
  std::string two = b::identity_keys(t.dir, true)->public_key;
  (void)b::add_key(t.dir, b::KeyRole::worker, one, "box");
  BOOST_TEST(b::add_key(t.dir, b::KeyRole::worker, two, "box").error() ==
             "the name 'box' is already given to another worker key; choose another with --name "
             "or remove it first");
  BOOST_TEST(b::add_key(t.dir, b::KeyRole::worker, two, "../x")
                 .error()
                 .starts_with("'../x' is not a usable key name"));
}
