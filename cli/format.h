// Printing command results as a table, CSV, JSON or YAML.
#pragma once

#include <expected>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace shoal::cli {

enum class Format { table, csv, json, yaml };

// "table", "csv", "json", "yaml"; fails naming the value and the choices.
std::expected<Format, std::string> parse_format(const std::string& name,
                                                const std::vector<Format>& allowed);

// A table with a header row (unless hidden), columns padded to their widest
// cell, separated by two spaces.
std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows, bool hide_header);
// RFC 4180 CSV: fields with commas, quotes or newlines are quoted.
std::string render_csv(const std::vector<std::string>& header,
                       const std::vector<std::vector<std::string>>& rows, bool hide_header);
std::string render_yaml(const nlohmann::json& value);

// "2026-11-23 22:31:04" in local time, from the protocol's RFC 3339 UTC.
std::string local_time(const std::string& rfc3339);

}  // namespace shoal::cli
