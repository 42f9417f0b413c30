#include "protocol/constraints.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

namespace shoal::jobs {
namespace {

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// Label keys and values: letters, digits, '-', '_', '.', '/' (a prefix).
bool valid_token(const std::string& s, bool allow_empty) {
  if (s.empty()) return allow_empty;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == '/';
  });
}

// Splits at commas outside parentheses.
std::expected<std::vector<std::string>, std::string> split_requirements(const std::string& text) {
  std::vector<std::string> parts;
  std::string cur;
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')' && --depth < 0) return std::unexpected("'" + text + "': unbalanced ')'");
    if (c == ',' && depth == 0) {
      parts.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (depth != 0) return std::unexpected("'" + text + "': unbalanced '('");
  parts.push_back(trim(cur));
  return parts;
}

std::expected<Requirement, std::string> parse_set(const std::string& part, size_t at,
                                                  size_t word_len, Requirement::Op op) {
  Requirement r;
  r.op = op;
  r.key = trim(std::string_view(part).substr(0, at));
  std::string rest = trim(std::string_view(part).substr(at + word_len));
  if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')')
    return std::unexpected("'" + part + "': expected a list of values in parentheses");
  std::string list = rest.substr(1, rest.size() - 2);
  size_t start = 0;
  for (;;) {
    size_t comma = list.find(',', start);
    std::string v = trim(std::string_view(list).substr(start, comma - start));
    if (!valid_token(v, false)) return std::unexpected("'" + part + "': bad value '" + v + "'");
    r.values.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return r;
}

std::expected<Requirement, std::string> parse_requirement(const std::string& part) {
  if (part.empty()) return std::unexpected(std::string("an empty requirement (a stray comma?)"));
  // Set operators: a word surrounded by spaces.
  for (auto [word, op] :
       {std::pair{" notin ", Requirement::Op::not_in}, std::pair{" in ", Requirement::Op::in}}) {
    size_t at = part.find(word);
    if (at == std::string::npos) continue;
    auto r = parse_set(part, at, std::string_view(word).size(), op);
    if (r && !valid_token(r->key, false))
      return std::unexpected("'" + part + "': bad key '" + r->key + "'");
    return r;
  }
  Requirement r;
  if (part.front() == '!' && part.find('=') == std::string::npos) {
    r.op = Requirement::Op::not_exists;
    r.key = trim(std::string_view(part).substr(1));
  } else {
    static const std::vector<std::pair<std::string, Requirement::Op>> ops = {
        {"!=", Requirement::Op::not_equals},
        {"==", Requirement::Op::equals},
        {"=", Requirement::Op::equals},
        {">", Requirement::Op::greater},
        {"<", Requirement::Op::less}};
    size_t best = std::string::npos;
    for (const auto& [text, op] : ops) {
      size_t at = part.find(text);
      if (at == std::string::npos || at > best) continue;
      if (at == best && text.size() == 1) continue;  // keep the two-character operator
      best = at;
      r.op = op;
      r.key = trim(std::string_view(part).substr(0, at));
      r.values = {trim(std::string_view(part).substr(at + text.size()))};
    }
    if (best == std::string::npos) {
      r.op = Requirement::Op::exists;
      r.key = part;
    }
  }
  if (!valid_token(r.key, false)) return std::unexpected("'" + part + "': bad key '" + r.key + "'");
  for (const auto& v : r.values) {
    bool numeric = r.op == Requirement::Op::greater || r.op == Requirement::Op::less;
    long long n;
    if (numeric && std::from_chars(v.data(), v.data() + v.size(), n).ec != std::errc())
      return std::unexpected("'" + part + "': '" + v + "' is not an integer");
    if (!valid_token(v, !numeric)) return std::unexpected("'" + part + "': bad value '" + v + "'");
  }
  return r;
}

std::optional<long long> as_int(const std::string& s) {
  long long n;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return n;
}

}  // namespace

std::expected<Selector, std::string> parse_selector(const std::string& text) {
  Selector out;
  if (trim(text).empty()) return out;
  auto parts = split_requirements(text);
  if (!parts) return std::unexpected(parts.error());
  for (const auto& p : *parts) {
    auto r = parse_requirement(p);
    if (!r) return std::unexpected(r.error());
    out.push_back(std::move(*r));
  }
  return out;
}

bool matches(const Selector& selector, const std::map<std::string, std::string>& labels) {
  for (const auto& r : selector) {
    auto it = labels.find(r.key);
    bool has = it != labels.end();
    auto in_values = [&] {
      return has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    };
    bool ok = false;
    switch (r.op) {
      case Requirement::Op::equals:
      case Requirement::Op::in:
        ok = in_values();
        break;
      case Requirement::Op::not_equals:
      case Requirement::Op::not_in:
        ok = !in_values();
        break;
      case Requirement::Op::exists:
        ok = has;
        break;
      case Requirement::Op::not_exists:
        ok = !has;
        break;
      case Requirement::Op::greater:
      case Requirement::Op::less: {
        auto have = has ? as_int(it->second) : std::nullopt;
        auto want = as_int(r.values.at(0));
        ok = have && want && (r.op == Requirement::Op::greater ? *have > *want : *have < *want);
        break;
      }
    }
    if (!ok) return false;
  }
  return true;
}

std::expected<std::map<std::string, std::string>, std::string> parse_labels(
    const std::vector<std::string>& flags) {
  std::map<std::string, std::string> out;
  for (const auto& f : flags) {
    size_t eq = f.find('=');
    std::string key = trim(std::string_view(f).substr(0, eq));
    std::string value = eq == std::string::npos ? "" : trim(std::string_view(f).substr(eq + 1));
    if (!valid_token(key, false) || !valid_token(value, true))
      return std::unexpected("--label " + f +
                             ": expected key=value (letters, digits, '-', '_', '.', '/')");
    out[key] = value;
  }
  return out;
}

}  // namespace shoal::jobs
