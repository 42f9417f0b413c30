// RecentHashes: the answer is always the bytes' own SHA-256, recalled or not.
#include <boost/test/unit_test.hpp>

#include <string>

#include "broker/recent_hashes.h"
#include "protocol/sha256.h"

using shoal::sha256_hex;
using shoal::broker::RecentHashes;

BOOST_AUTO_TEST_CASE(bytes_seen_again_are_recalled_with_their_sha256) {
  RecentHashes r;
  const std::string module(150000, 'm');
  BOOST_TEST(r.sha256_of(module) == sha256_hex(module));
  BOOST_TEST(r.recalled() == 0u);
  BOOST_TEST(r.sha256_of(std::string(module)) == sha256_hex(module));  // equal bytes, another copy
  BOOST_TEST(r.recalled() == 1u);
}

BOOST_AUTO_TEST_CASE(other_bytes_of_the_same_size_get_their_own_hash) {
  RecentHashes r;
  std::string a(4096, 'a');
  std::string b = a;
  b[2048] = 'b';
  BOOST_TEST(r.sha256_of(a) == sha256_hex(a));
  BOOST_TEST(r.sha256_of(b) == sha256_hex(b));
  BOOST_TEST(r.recalled() == 0u);
}

BOOST_AUTO_TEST_CASE(the_least_recently_used_is_forgotten_first) {
  RecentHashes r(2);
  const std::string a = "module a", b = "module b", c = "module c";
  r.sha256_of(a);
  r.sha256_of(b);
  r.sha256_of(a);  // a is now the newer of the two
  BOOST_TEST(r.recalled() == 1u);
  r.sha256_of(c);  // b goes
  BOOST_TEST(r.sha256_of(a) == sha256_hex(a));
  BOOST_TEST(r.recalled() == 2u);
  BOOST_TEST(r.sha256_of(b) == sha256_hex(b));
  BOOST_TEST(r.recalled() == 2u);
}

BOOST_AUTO_TEST_CASE(bytes_over_the_size_limit_are_hashed_every_time) {
  RecentHashes r(8, 1000);
  const std::string big(1001, 'x');
  BOOST_TEST(r.sha256_of(big) == sha256_hex(big));
  BOOST_TEST(r.sha256_of(big) == sha256_hex(big));
  BOOST_TEST(r.recalled() == 0u);
}
