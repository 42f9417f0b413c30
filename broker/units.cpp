#include "broker/units.h"

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
