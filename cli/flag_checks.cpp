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

void check_unsigned_options(CLI::App& app) {
  const CLI::Validator whole(
      [](std::string& value) -> std::string {
        uint64_t n = 0;
        auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec == std::errc::result_out_of_range) return "'" + value + "' is too large";
        if (ec != std::errc() || p != value.data() + value.size())
          return "'" + value + "' is not a whole number (0 or more)";
        return "";
      },
      "");
  for (CLI::Option* o : app.get_options())
    if (o->get_type_name().rfind("UINT", 0) == 0) o->check(whole);
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    check_unsigned_options(*sub);
}

}  // namespace shoal::cli
