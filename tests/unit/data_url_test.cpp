// data: URLs, the payload of Bacalhau's inline input sources: the exact
// bytes or the exact message.
#include <boost/test/unit_test.hpp>

#include <string>

#include "bacalhau/data_url.h"

using shoal::bacalhau::decode_data_url;
using shoal::bacalhau::encode_data_url;

namespace {

std::string bytes_of(std::string_view url) {
  auto d = decode_data_url(url);
  BOOST_TEST_REQUIRE(d.has_value(), std::string(url) + ": " + d.error());
  return d->data;
}

std::string error_of(std::string_view url) {
  auto d = decode_data_url(url);
  BOOST_TEST_REQUIRE(!d.has_value(), std::string(url) + " decoded");
  return d.error();
}

}  // namespace

BOOST_AUTO_TEST_CASE(base64_with_and_without_padding) {
  BOOST_TEST(bytes_of("data:text/plain;base64,aGVsbG8=") == "hello");
  BOOST_TEST(bytes_of("data:text/plain;base64,aGVsbG8") == "hello");
  BOOST_TEST(bytes_of("data:;base64,aGk=") == "hi");
  BOOST_TEST(bytes_of("data:;base64,aA==") == "h");
  BOOST_TEST(bytes_of("data:;base64,aA") == "h");
  BOOST_TEST(bytes_of("data:;base64,") == "");
}

BOOST_AUTO_TEST_CASE(the_media_type_is_kept_and_base64_is_case_insensitive) {
  auto d = decode_data_url("data:application/wasm;BASE64,AGFzbQ==");
  BOOST_TEST_REQUIRE(d.has_value());
  BOOST_TEST(d->media_type == "application/wasm");
  BOOST_TEST(d->base64);
  BOOST_TEST(d->data == std::string("\0asm", 4));
  auto plain = decode_data_url("DATA:text/plain;charset=utf-8,x");
  BOOST_TEST_REQUIRE(plain.has_value());
  BOOST_TEST(plain->media_type == "text/plain;charset=utf-8");
  BOOST_TEST(!plain->base64);
}

BOOST_AUTO_TEST_CASE(whitespace_inside_base64_is_ignored) {
  BOOST_TEST(bytes_of("data:;base64,aGVs\nbG8g d29y\tbGQ=") == "hello world");
}

BOOST_AUTO_TEST_CASE(percent_encoded_data_is_decoded) {
  BOOST_TEST(bytes_of("data:,a%20b%0Ac") == "a b\nc");
  BOOST_TEST(bytes_of("data:,100%25") == "100%");
  BOOST_TEST(bytes_of("data:,%00%ff") == std::string("\0\xff", 2));
  BOOST_TEST(bytes_of("data:,") == "");
  BOOST_TEST(bytes_of("data:,a,b") == "a,b");
  // Percent escapes inside base64 are decoded first (%2B is '+').
  BOOST_TEST(bytes_of("data:;base64,%2B%2F8%3D") == "\xfb\xff");
}

BOOST_AUTO_TEST_CASE(bad_urls_are_refused_with_the_cause) {
  BOOST_TEST(error_of("http://example.com/x") == "does not start with data:");
  BOOST_TEST(error_of("data:text/plain") == "has no ',' before its data");
  BOOST_TEST(error_of("data:,50%") == "'%' is not a percent escape");
  BOOST_TEST(error_of("data:,%4g") == "'%4g' is not a percent escape");
  BOOST_TEST(error_of("data:;base64,aGV*bG8=") == "'*' is not a base64 character");
  BOOST_TEST(error_of("data:;base64,aGVsb") == "base64 data ends in the middle of a byte");
  BOOST_TEST(error_of("data:;base64,aGVsbG8==") == "base64 data has misplaced '=' padding");
  BOOST_TEST(error_of("data:;base64,aG=VsbG8") == "'=' is not a base64 character");
}

BOOST_AUTO_TEST_CASE(encoding_round_trips_every_byte_value) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n : {0u, 1u, 2u, 3u, 4u, 255u, 256u}) {
    std::string url = encode_data_url(all.substr(0, n));
    BOOST_TEST(url.starts_with("data:application/octet-stream;base64,"));
    BOOST_TEST(bytes_of(url) == all.substr(0, n));
  }
  BOOST_TEST(encode_data_url("hello", "text/plain") == "data:text/plain;base64,aGVsbG8=");
}
