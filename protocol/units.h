// Sizes as people write them on command lines.
#pragma once

#include <cstdint>
#include <expected>
#include <string>

namespace shoal::units {

// Parses "64MiB", "512M", "1GiB", "1G", "65536" (bytes), case-insensitive;
// K/M/G and KiB/MiB/GiB are both powers of 1024, as Bacalhau reads them.
std::expected<uint64_t, std::string> parse_size(const std::string& text);

// A duration as people write it: seconds ("90", "1.5") or Go's form, as
// Bacalhau reads it ("90s", "500ms", "5m", "1h30m", "2h"; and "30d"), in seconds. Not
// negative; at most `max_s`. The error says what was expected.
std::expected<double, std::string> parse_duration(const std::string& text, double max_s);

// Bytes as people read them: "812 B", "1.0 KiB", "12.3 MiB" (one decimal,
// powers of 1024). The one formatter of sizes for messages and tables.
std::string format_bytes(uint64_t bytes);

}  // namespace shoal::units
