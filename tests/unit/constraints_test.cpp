// Bacalhau's --constraints label selector, parsed and matched against worker labels.
#include <boost/test/unit_test.hpp>

#include "protocol/constraints.h"

using shoal::jobs::matches;
using shoal::jobs::parse_labels;
using shoal::jobs::parse_selector;

namespace {

const std::map<std::string, std::string> kGpuBox = {
    {"zone", "a"}, {"gpu", "true"}, {"cores", "16"}};

bool holds(const std::string& selector) {
  auto s = parse_selector(selector);
  BOOST_REQUIRE_MESSAGE(s, selector + ": " + (s ? "" : s.error()));
  return matches(*s, kGpuBox);
}

std::string error_of(const std::string& selector) {
  auto s = parse_selector(selector);
  BOOST_REQUIRE(!s);
  return s.error();
}

}  // namespace

BOOST_AUTO_TEST_CASE(empty_selector_matches_any_worker) {
  BOOST_TEST(holds(""));
  BOOST_TEST(matches(*parse_selector("  "), {}));
}

BOOST_AUTO_TEST_CASE(equality_and_inequality) {
  BOOST_TEST(holds("zone=a"));
  BOOST_TEST(holds("zone==a"));
  BOOST_TEST(!holds("zone=b"));
  BOOST_TEST(holds("zone!=b"));
  BOOST_TEST(!holds("zone!=a"));
  BOOST_TEST(holds("region!=x"));  // absent counts as not equal
}

BOOST_AUTO_TEST_CASE(set_membership) {
  BOOST_TEST(holds("zone in (b, a)"));
  BOOST_TEST(!holds("zone in (b,c)"));
  BOOST_TEST(holds("zone notin (b,c)"));
  BOOST_TEST(!holds("zone notin (a)"));
  BOOST_TEST(!holds("region in (a)"));
}

BOOST_AUTO_TEST_CASE(existence) {
  BOOST_TEST(holds("gpu"));
  BOOST_TEST(!holds("!gpu"));
  BOOST_TEST(holds("!fpga"));
  BOOST_TEST(!holds("fpga"));
}

BOOST_AUTO_TEST_CASE(integer_comparison) {
  BOOST_TEST(holds("cores>8"));
  BOOST_TEST(!holds("cores<8"));
  BOOST_TEST(!holds("zone>1"));  // not an integer label
}

BOOST_AUTO_TEST_CASE(requirements_are_and_ed) {
  BOOST_TEST(holds("zone in (a,b),gpu=true,!fpga"));
  BOOST_TEST(!holds("zone in (a,b),gpu=false"));
}

BOOST_AUTO_TEST_CASE(malformed_selectors_name_the_part) {
  BOOST_TEST(error_of("zone in (a") == "'zone in (a': unbalanced '('");
  BOOST_TEST(error_of("zone=a,,gpu") == "an empty requirement (a stray comma?)");
  BOOST_TEST(error_of("zone in a") == "'zone in a': expected a list of values in parentheses");
  BOOST_TEST(error_of("cores>many") == "'cores>many': 'many' is not an integer");
  BOOST_TEST(error_of("zo ne=a") == "'zo ne=a': bad key 'zo ne'");
}

BOOST_AUTO_TEST_CASE(worker_labels) {
  auto l = parse_labels({"zone=a", "gpu"});
  BOOST_REQUIRE(l);
  BOOST_TEST(l->at("zone") == "a");
  BOOST_TEST(l->at("gpu") == "");
  BOOST_TEST(parse_labels({"a b=c"}).error() ==
             "--label a b=c: expected key=value (letters, digits, '-', '_', '.', '/')");
}
