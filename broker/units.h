// Sizes as people write them on command lines.
#pragma once

#include <cstdint>
#include <expected>
#include <string>

namespace shoal::units {

// Parses "64MiB", "512M", "1GiB", "1G", "65536" (bytes), case-insensitive;
// K/M/G and KiB/MiB/GiB are both powers of 1024, as Bacalhau reads them.
std::expected<uint64_t, std::string> parse_size(const std::string& text);

// Bytes as people read them: "812 B", "1.0 KiB", "12.3 MiB" (one decimal,
// powers of 1024). The one formatter of sizes for messages and tables.
std::string format_bytes(uint64_t bytes);

}  // namespace shoal::units
