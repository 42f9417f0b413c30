// units.h: sizes and durations as people write them, and sizes as they read them.
#include <boost/test/unit_test.hpp>

#include <string>

#include "protocol/units.h"

using namespace shoal::units;

BOOST_AUTO_TEST_CASE(durations_are_seconds_or_go_style) {
  const std::pair<std::string, double> good[] = {
      {"90", 90},   {"1.5", 1.5},    {"0", 0},       {"90s", 90},   {"500ms", 0.5},   {"5m", 300},
      {"1h", 3600}, {"1h30m", 5400}, {"1.5h", 5400}, {"2m3s", 123}, {"30d", 2592000},
  };
  for (const auto& [text, seconds] : good) {
    auto d = parse_duration(text, 1e9);
    BOOST_TEST_REQUIRE(d.has_value(), text + ": " + (d ? std::string() : d.error()));
    BOOST_TEST(*d == seconds, text);
  }
}

BOOST_AUTO_TEST_CASE(a_bad_duration_says_what_was_expected) {
  const std::pair<std::string, std::string> bad[] = {
      {"-1", "'-1' is negative"},
      {"1x", "'1x': unknown unit 'x' (use ms, s, m, h or d)"},
      {"", "'' is not a duration (seconds such as 90 or 1.5, or 90s, 500ms, 5m, 1h30m, 30d)"},
      {"h", "'h' is not a duration (seconds such as 90 or 1.5, or 90s, 500ms, 5m, 1h30m, 30d)"},
      {"5m3", "'5m3' is not a duration (seconds such as 90 or 1.5, or 90s, 500ms, 5m, 1h30m, 30d)"},
      {"j-12",
       "'j-12' is not a duration (seconds such as 90 or 1.5, or 90s, 500ms, 5m, 1h30m, 30d)"},
      {"100000h", "'100000h' is longer than the most, 3600 seconds"},
  };
  for (const auto& [text, why] : bad) {
    auto d = parse_duration(text, 3600);
    BOOST_TEST_REQUIRE(!d.has_value(), text);
    BOOST_TEST(d.error() == why);
  }
}

BOOST_AUTO_TEST_CASE(sizes_read_both_ways) {
  BOOST_TEST(*parse_size("64KiB") == 65536u);
  BOOST_TEST(*parse_size("1G") == (1ull << 30));
  BOOST_TEST(format_bytes(65536) == "64.0 KiB");
  BOOST_TEST(format_bytes(0) == "0 B");
  BOOST_TEST(format_bytes(1ull << 40) == "1.0 TiB");
}
