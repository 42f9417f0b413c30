// SHA-256 against the standard's test vectors (FIPS 180-2, appendix B),
// whole and in pieces.
#include <boost/test/unit_test.hpp>

#include <string>

#include "protocol/sha256.h"

using shoal::Sha256;
using shoal::sha256_hex;

BOOST_AUTO_TEST_CASE(the_standard_vectors_hash_to_their_digests) {
  BOOST_TEST(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(sha256_hex("abc") ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_TEST(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  BOOST_TEST(sha256_hex(std::string(1000000, 'a')) ==
             "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

BOOST_AUTO_TEST_CASE(bytes_added_in_pieces_hash_as_the_whole) {
  const std::string whole(100000, 'q');
  Sha256 h;
  for (size_t at = 0; at < whole.size();) {
    size_t n = std::min<size_t>(whole.size() - at, 1 + at % 997);  // uneven pieces
    h.update(std::string_view(whole).substr(at, n));
    at += n;
  }
  BOOST_TEST(h.hex() == sha256_hex(whole));
}

BOOST_AUTO_TEST_CASE(hex_starts_the_hash_over) {
  Sha256 h;
  h.update("first");
  (void)h.hex();
  h.update("abc");
  BOOST_TEST(h.hex() == sha256_hex("abc"));
}
