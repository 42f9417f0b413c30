// A job's JSON written straight to text, byte for byte what
// to_json(job).dump() with invalid UTF-8 replaced gives (the client
// protocol's replies), without building nlohmann's tree (a map node and a
// string per field): the broker writes one with every job's end.
//
// The keys and their order come from protocol/job_schema.h, whose lists are
// sorted as nlohmann sorts object keys; the unit test compares the two
// writers on many jobs.
#include <charconv>
#include <concepts>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/job_json.h"
#include "protocol/job_schema.h"

namespace shoal::jobs {
namespace {

// Whether `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing past U+10FFFF).
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;  // the bounds of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // cut short
    for (size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return false;
    }
    i += n + 1;
  }
  return true;
}

class Writer {
 public:
  std::string out;

  void str(std::string_view s) {
    if (!valid_utf8(s)) {
      // Rare (a client's bytes quoted in a message): nlohmann's own
      // replacement, so that the two writers never differ.
      out += nlohmann::json(std::string(s))
                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return;
    }
    out += '"';
    for (char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
          } else {
            out += ch;
          }
      }
    }
    out += '"';
  }
  template <class N>
  void num(N n) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, end);
  }
  // "key": (a comma before every key but an object's first)
  void key(std::string_view k) {
    if (out.back() != '{') out += ',';
    out += '"';
    out += k;
    out += "\":";
  }

  // The text of each kind of member schema::fields lists.
  void value(const std::string& s) { str(s); }
  void value(bool b) { out += b ? "true" : "false"; }
  void value(std::unsigned_integral auto n) { num(n); }
  void value(const std::optional<int32_t>& n) {
    if (n)
      num(*n);
    else
      out += "null";
  }
  void value(const std::vector<std::string>& v) {
    out += '[';
    for (const auto& s : v) {
      if (out.back() != '[') out += ',';
      str(s);
    }
    out += ']';
  }
  void value(const std::map<std::string, std::string>& m) {
    out += '{';
    for (const auto& [k, v] : m) {
      if (out.back() != '{') out += ',';
      str(k);
      out += ':';
      str(v);
    }
    out += '}';
  }
  template <class M>
  void value(const schema::Seconds<M>& s) {
    // nlohmann's shortest round-trip form of a double ("1.5", "0.0").
    out += nlohmann::json(static_cast<double>(s.ms) / 1000.0).dump();
  }
  template <class M>
  void value(const schema::MemoryBytes<M>& m) {
    num(m.bytes);
  }
  void value(const schema::Time& t) { str(format_time(t.ns)); }
  void value(const schema::State& s) { str(state_name(s.state)); }
  void value(const schema::Constant& c) { str(c.text); }
  template <schema::Described T>
  void value(const std::vector<T>& items) {
    out += '[';
    for (const auto& x : items) {
      if (out.back() != '[') out += ',';
      value(x);
    }
    out += ']';
  }
  template <schema::Described T>
  void value(const T& object) {
    out += '{';
    schema::fields(object, [this](const char* k, const auto& member, schema::Flow) {
      key(k);
      value(member);
    });
    out += '}';
  }
};

}  // namespace

std::string to_json_text(const Job& j) {
  Writer w;
  w.out.reserve(1536);
  w.value(j);
  return std::move(w.out);
}

}  // namespace shoal::jobs
