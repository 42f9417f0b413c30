// ModuleMemo: what a worker keeps of the modules it was sent.
#include <boost/test/unit_test.hpp>

#include <string>

#include "worker/module_memo.h"

using shoal::worker::ModuleMemo;

BOOST_AUTO_TEST_CASE(a_kept_module_is_returned_by_hash) {
  ModuleMemo memo(4, 1000);
  auto kept = memo.put("a", "bytes of a");
  BOOST_TEST(*kept == "bytes of a");
  auto got = memo.get("a");
  BOOST_TEST_REQUIRE(got != nullptr);
  BOOST_TEST(*got == "bytes of a");
  BOOST_TEST(got.get() == kept.get());  // shared, not copied
  BOOST_TEST(memo.get("b") == nullptr);
  BOOST_TEST(memo.bytes() == 10u);
}

BOOST_AUTO_TEST_CASE(past_the_count_the_least_recently_used_goes) {
  ModuleMemo memo(2, 1000);
  memo.put("a", "1");
  memo.put("b", "2");
  BOOST_TEST(memo.get("a") != nullptr);  // a is now the more recent
  memo.put("c", "3");
  BOOST_TEST(memo.get("b") == nullptr);
  BOOST_TEST(memo.get("a") != nullptr);
  BOOST_TEST(memo.get("c") != nullptr);
  BOOST_TEST(memo.size() == 2u);
}

BOOST_AUTO_TEST_CASE(past_the_bytes_the_least_recently_used_go) {
  ModuleMemo memo(10, 10);
  memo.put("a", std::string(4, 'a'));
  memo.put("b", std::string(4, 'b'));
  memo.put("c", std::string(4, 'c'));  // 12 bytes: a goes
  BOOST_TEST(memo.get("a") == nullptr);
  BOOST_TEST(memo.get("b") != nullptr);
  BOOST_TEST(memo.get("c") != nullptr);
  BOOST_TEST(memo.bytes() == 8u);
}

BOOST_AUTO_TEST_CASE(a_module_larger_than_the_bytes_is_kept_alone) {
  ModuleMemo memo(10, 10);
  memo.put("a", "1");
  memo.put("big", std::string(50, 'x'));
  BOOST_TEST(memo.get("a") == nullptr);
  BOOST_TEST_REQUIRE(memo.get("big") != nullptr);
  BOOST_TEST(memo.size() == 1u);
  BOOST_TEST(memo.bytes() == 50u);
}

BOOST_AUTO_TEST_CASE(putting_a_hash_again_replaces_its_bytes_and_count) {
  ModuleMemo memo(10, 100);
  memo.put("a", "old");
  memo.put("a", "newer");
  BOOST_TEST(*memo.get("a") == "newer");
  BOOST_TEST(memo.size() == 1u);
  BOOST_TEST(memo.bytes() == 5u);
}

BOOST_AUTO_TEST_CASE(bytes_in_use_outlive_their_eviction) {
  ModuleMemo memo(1, 100);
  auto running = memo.put("a", "still running");
  memo.put("b", "next");
  BOOST_TEST(memo.get("a") == nullptr);
  BOOST_TEST(*running == "still running");
}
