#include "cli/format.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <ctime>

#include "protocol/names.h"

namespace shoal::cli {

std::expected<Format, std::string> parse_format(const std::string& name,
                                                const std::vector<Format>& allowed) {
  static const std::pair<const char*, Format> names[] = {{"table", Format::table},
                                                         {"csv", Format::csv},
                                                         {"json", Format::json},
                                                         {"yaml", Format::yaml}};
  std::string choices;
  for (const auto& [n, f] : names) {
    if (std::find(allowed.begin(), allowed.end(), f) == allowed.end()) continue;
    if (name == n) return f;
    choices += (choices.empty() ? "" : ", ") + std::string(n);
  }
  return std::unexpected("--output " + name + ": choose one of " + choices);
}

std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& given, bool hide_header) {
  // A cell is one line: a name holding a newline or an escape sequence
  // must not break the table or the terminal.
  std::vector<std::vector<std::string>> rows = given;
  for (auto& r : rows)
    for (auto& cell : r) cell = names::escaped(cell);
  std::vector<size_t> width(header.size(), 0);
  if (!hide_header)
    for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t i = 0; i < cells.size(); ++i) {
      l += cells[i];
      if (i + 1 < cells.size()) l += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  if (!hide_header) line(header);
  for (const auto& r : rows) line(r);
  return out;
}

std::string render_csv(const std::vector<std::string>& header,
                       const std::vector<std::vector<std::string>>& rows, bool hide_header) {
  auto field = [](const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + field(cells[i]);
    out += "\n";
  };
  if (!hide_header) line(header);
  for (const auto& r : rows) line(r);
  return out;
}

namespace {
void emit(YAML::Emitter& e, const nlohmann::json& v) {
  if (v.is_object()) {
    e << YAML::BeginMap;
    for (const auto& [k, x] : v.items()) {
      e << YAML::Key << k << YAML::Value;
      emit(e, x);
    }
    e << YAML::EndMap;
  } else if (v.is_array()) {
    e << YAML::BeginSeq;
    for (const auto& x : v) emit(e, x);
    e << YAML::EndSeq;
  } else if (v.is_string()) {
    e << YAML::DoubleQuoted << v.get<std::string>();
  } else if (v.is_null()) {
    e << YAML::Null;
  } else {
    e << v.dump();
  }
}
}  // namespace

std::string render_yaml(const nlohmann::json& value) {
  YAML::Emitter e;
  emit(e, value);
  return std::string(e.c_str()) + "\n";
}

std::string local_time(const std::string& rfc3339) {
  if (rfc3339.size() < 19) return rfc3339;
  struct tm tm {};
  if (!strptime(rfc3339.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return rfc3339;
  time_t t = timegm(&tm);
  struct tm local;
  localtime_r(&t, &local);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &local);
  return buf;
}

}  // namespace shoal::cli
