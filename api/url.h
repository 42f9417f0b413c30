// Pieces of URLs as the API reads them. Pure and thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace shoal::api {

// %XX escapes decoded (and '+' as a space when `plus_is_space`); a malformed
// escape is kept as written.
std::string percent_decode(std::string_view text, bool plus_is_space = false);

// "a=1&b=x%20y&c" as {a:1, b:"x y", c:""}; repeated keys are all kept.
std::multimap<std::string, std::string> parse_query(std::string_view query);

}  // namespace shoal::api
