#include "bacalhau/template.h"

#include <algorithm>
#include <cctype>
#include <regex>

namespace shoal::bacalhau {
namespace {

bool identifier(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

bool space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string line_of(std::string_view text, size_t at) {
  return "line " + std::to_string(1 + std::count(text.begin(), text.begin() + at, '\n'));
}

// The value of one action's body (between the delimiters and trim markers).
std::expected<std::string, std::string> action_value(std::string_view body,
                                                     const TemplateVars& vars) {
  while (!body.empty() && space(body.front())) body.remove_prefix(1);
  while (!body.empty() && space(body.back())) body.remove_suffix(1);
  if (body.starts_with("/*") && body.ends_with("*/") && body.size() >= 4) return std::string();
  if (body.size() > 1 && body[0] == '.' && identifier(body.substr(1))) {
    const std::string key(body.substr(1));
    auto it = vars.find(key);
    if (it == vars.end())
      return std::unexpected("no variable " + key + " (give it with -V " + key + "=VALUE)");
    return it->second;
  }
  return std::unexpected(std::string(
      "shoal reads only {{.NAME}} in a job spec, no other template action (--no-template reads "
      "the spec as it is)"));
}

}  // namespace

std::expected<std::string, std::string> expand_template(std::string_view text,
                                                        const TemplateVars& vars) {
  std::string out;
  size_t pos = 0;
  bool trim_next = false;
  while (pos <= text.size()) {
    size_t open = text.find("{{", pos);
    std::string_view literal =
        text.substr(pos, open == std::string_view::npos ? std::string_view::npos : open - pos);
    if (trim_next)
      while (!literal.empty() && space(literal.front())) literal.remove_prefix(1);
    if (open == std::string_view::npos) {
      out += literal;
      break;
    }
    size_t body = open + 2;
    const bool trim_before = text.substr(body).starts_with("- ");
    if (trim_before) {
      while (!literal.empty() && space(literal.back())) literal.remove_suffix(1);
      body += 2;
    }
    out += literal;
    size_t close = text.find("}}", body);
    if (close == std::string_view::npos)
      return std::unexpected(line_of(text, open) + ": " + std::string(text.substr(open, 20)) +
                             "...: the action is not closed with }}");
    size_t body_end = close;
    trim_next = close >= body + 2 && text.substr(close - 2, 2) == " -";
    if (trim_next) body_end = close - 2;
    auto value = action_value(text.substr(body, body_end - body), vars);
    if (!value)
      return std::unexpected(line_of(text, open) + ": " +
                             std::string(text.substr(open, close + 2 - open)) + ": " +
                             value.error());
    out += *value;
    pos = close + 2;
  }
  return out;
}

std::expected<TemplateVars, std::string> template_vars_from_flags(
    const std::vector<std::string>& values) {
  TemplateVars vars;
  for (const auto& value : values) {
    std::string last;
    size_t start = 0;
    for (;;) {
      size_t comma = value.find(',', start);
      std::string piece = value.substr(start, comma == std::string::npos ? comma : comma - start);
      size_t eq = piece.find('=');
      if (eq == std::string::npos || eq == 0) {
        if (last.empty())
          return std::unexpected("--template-vars " + value + ": expected KEY=VALUE");
        vars[last] += "," + piece;
      } else {
        last = piece.substr(0, eq);
        vars[last] = piece.substr(eq + 1);
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return vars;
}

std::expected<void, std::string> add_template_envs(const std::string& pattern,
                                                   const std::vector<std::string>& environ,
                                                   TemplateVars& vars) {
  std::regex re;
  try {
    re = std::regex(pattern == "*" ? std::string(".*") : pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return std::unexpected("--template-envs '" + pattern +
                           "' is not a regular expression: " + e.what());
  }
  for (const auto& item : environ) {
    size_t eq = item.find('=');
    if (eq == std::string::npos) continue;
    std::string name = item.substr(0, eq);
    if (std::regex_search(name, re)) vars.try_emplace(name, item.substr(eq + 1));
  }
  return {};
}

}  // namespace shoal::bacalhau
