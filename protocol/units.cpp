#include "protocol/units.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

namespace shoal::units {

std::expected<uint64_t, std::string> parse_size(const std::string& text) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p == text.data())
    return std::unexpected("'" + text + "' is not a size (try 512MiB or 2GiB)");
  std::string unit(p, text.data() + text.size());
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  uint64_t mult;
  if (unit.empty() || unit == "b")
    mult = 1;
  else if (unit == "k" || unit == "kb" || unit == "ki" || unit == "kib")
    mult = 1ull << 10;
  else if (unit == "m" || unit == "mb" || unit == "mi" || unit == "mib")
    mult = 1ull << 20;
  else if (unit == "g" || unit == "gb" || unit == "gi" || unit == "gib")
    mult = 1ull << 30;
  else
    return std::unexpected("'" + text + "': unknown unit '" + unit + "' (use KiB, MiB or GiB)");
  if (n > UINT64_MAX / mult) return std::unexpected("'" + text + "' is too large");
  return n * mult;
}

std::expected<double, std::string> parse_duration(const std::string& text, double max_s) {
  const std::string expected =
      "'" + text + "' is not a duration (seconds such as 90 or 1.5, or 90s, 500ms, 5m, 1h30m, 30d)";
  if (text.empty()) return std::unexpected(expected);
  if (text.front() == '-') return std::unexpected("'" + text + "' is negative");
  double total = 0;
  const char* p = text.data();
  const char* end = p + text.size();
  bool bare = true;  // a number with no unit: seconds, alone
  while (p < end) {
    double n = 0;
    auto [q, ec] = std::from_chars(p, end, n, std::chars_format::fixed);
    if (ec != std::errc() || q == p) return std::unexpected(expected);
    p = q;
    const char* u = p;
    while (p < end && std::isalpha(static_cast<unsigned char>(*p))) ++p;
    const std::string unit(u, p);
    double scale;
    if (unit.empty()) {
      if (!bare || p != end) return std::unexpected(expected);
      scale = 1;
    } else if (unit == "ms") {
      scale = 0.001;
    } else if (unit == "s") {
      scale = 1;
    } else if (unit == "m") {
      scale = 60;
    } else if (unit == "h") {
      scale = 3600;
    } else if (unit == "d") {
      scale = 86400;
    } else {
      return std::unexpected("'" + text + "': unknown unit '" + unit + "' (use ms, s, m, h or d)");
    }
    bare = false;
    total += n * scale;
  }
  if (total > max_s)
    return std::unexpected("'" + text + "' is longer than the most, " +
                           std::to_string(static_cast<uint64_t>(max_s)) + " seconds");
  return total;
}

std::string format_bytes(uint64_t bytes) {
  static const char* const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes) / 1024;
  int unit = 0;
  // Move up a unit before the display would read "1024.0".
  while (unit < 4 && v >= 1023.95) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[unit]);
  return buf;
}

}  // namespace shoal::units
