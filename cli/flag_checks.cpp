#include "cli/flag_checks.h"

#include <charconv>
#include <cstdio>

#include "protocol/units.h"

namespace shoal::cli {

CLI::Validator duration_check(double max_s) {
  return CLI::Validator(
      [max_s](std::string& value) -> std::string {
        auto seconds = units::parse_duration(value, max_s);
        if (!seconds) return seconds.error();
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", *seconds);
        value = buf;
        return "";
      },
      "DURATION");
}

CLI::Validator size_check(uint64_t least) {
  return CLI::Validator(
      [least](std::string& value) -> std::string {
        auto bytes = units::parse_size(value);
        if (!bytes) return bytes.error();
        if (*bytes < least)
          return "'" + value + "' is less than the least, " + units::format_bytes(least);
        value = std::to_string(*bytes);
        return "";
      },
      "SIZE");
}

CLI::Validator count_check(const std::string& what) {
  return CLI::Validator(
      [what](std::string& value) -> std::string {
        long n = 0;
        auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc() || p != value.data() + value.size() || n < 0)
          return "'" + value + "' is not a number of " + what + " (0 or more)";
        return "";
      },
      "N");
}

}  // namespace shoal::cli
