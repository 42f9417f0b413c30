// Checks for flag values that answer in words a person reads, instead of
// CLI11's "Value 1h not in range 0.000000 to 1797693134862...": durations as
// Bacalhau takes them, and counts.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace shoal::cli {

// Seconds ("90", "1.5") or a Go-style duration ("90s", "5m", "1h30m"),
// turned into seconds for the option's double; at most `max_s`.
CLI::Validator duration_check(double max_s);

// A size ("256MiB", "1G", "65536"), turned into bytes for the option's
// integer; at least `least` bytes.
CLI::Validator size_check(uint64_t least);

// Every option of `app` and of its subcommands that takes an unsigned
// number ("UINT" to CLI11) refuses a value that is not a whole number, with
// a sentence that says so. CLI11 2.1 would turn -1 into 18446744073709551615
// (`job list --limit -1` listed everything) and say only "Could not
// convert" of a word. Call once all options are added.
void check_unsigned_options(CLI::App& app);

}  // namespace shoal::cli
