// A job's JSON written straight to text, byte for byte what
// to_json(job).dump() with invalid UTF-8 replaced gives (the client
// protocol's replies). The broker writes one with every job's end; building
// nlohmann's tree first (a map node and a string per field) and copying it
// into the reply cost several times more than the job's own work there.
//
// nlohmann keeps object keys sorted, so every object below lists its keys
// in that order; the unit test compares the two writers on many jobs.
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "broker/job_json.h"

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
  void opt(const std::optional<int32_t>& n) {
    if (n)
      num(*n);
    else
      out += "null";
  }
  // "key": (a comma before every key but an object's first)
  void key(std::string_view k) {
    if (out.back() != '{') out += ',';
    out += '"';
    out += k;
    out += "\":";
  }
  void open(char c) { out += c; }
  void close(char c) { out += c; }
  void item() {
    if (out.back() != '[') out += ',';
  }
  void strings(const std::vector<std::string>& v) {
    open('[');
    for (const auto& s : v) {
      item();
      str(s);
    }
    close(']');
  }
};

void write_spec(Writer& w, const JobSpec& s) {
  w.open('{');
  w.key("args");
  w.strings(s.args);
  w.key("constraints");
  w.str(s.constraints);
  w.key("entry_point");
  w.str(s.entry_point);
  w.key("env");
  w.strings(s.env);
  w.key("import_modules");
  w.open('[');
  for (const auto& m : s.import_modules) {
    w.item();
    w.open('{');
    w.key("name");
    w.str(m.name);
    w.key("sha256");
    w.str(m.hash);
    w.key("source");
    w.str(m.source);
    w.close('}');
  }
  w.close(']');
  w.key("inline_inputs");
  w.open('[');
  for (const auto& i : s.inline_inputs) {
    w.item();
    w.open('{');
    w.key("sha256");
    w.str(i.hash);
    w.key("size");
    w.num(i.size);
    w.key("target");
    w.str(i.target);
    w.close('}');
  }
  w.close(']');
  w.key("inputs");
  w.open('[');
  for (const auto& i : s.inputs) {
    w.item();
    w.open('{');
    w.key("source");
    w.str(i.source);
    w.key("target");
    w.str(i.target);
    w.close('}');
  }
  w.close(']');
  w.key("labels");
  w.open('{');
  for (const auto& [k, v] : s.labels) {
    if (w.out.back() != '{') w.out += ',';
    w.str(k);
    w.out += ':';
    w.str(v);
  }
  w.close('}');
  w.key("memory");
  w.num(s.memory_bytes);
  w.key("module");
  w.str(s.module_name);
  w.key("module_sha256");
  w.str(s.module_hash);
  w.key("name");
  w.str(s.name);
  w.key("outputs");
  w.open('[');
  for (const auto& o : s.outputs) {
    w.item();
    w.open('{');
    w.key("name");
    w.str(o.name);
    w.key("path");
    w.str(o.path);
    w.close('}');
  }
  w.close(']');
  w.key("timeout_s");
  // nlohmann's shortest round-trip form of a double ("1.5", "0.0").
  w.out += nlohmann::json(static_cast<double>(s.timeout_ms) / 1000.0).dump();
  w.close('}');
}

}  // namespace

std::string to_json_text(const Job& j) {
  Writer w;
  w.out.reserve(1536);
  w.open('{');
  w.key("created");
  w.str(format_time(j.created_ns));
  w.key("engine");
  w.str("wasm");
  w.key("executions");
  w.open('[');
  for (const auto& e : j.executions) {
    w.item();
    w.open('{');
    w.key("attempt");
    w.num(e.attempt);
    w.key("ended");
    w.str(format_time(e.ended_ns));
    w.key("exit_code");
    w.opt(e.exit_code);
    w.key("id");
    w.str(e.id);
    w.key("message");
    w.str(e.message);
    w.key("started");
    w.str(format_time(e.started_ns));
    w.key("state");
    w.str(state_name(e.state));
    w.key("stderr_bytes");
    w.num(e.stderr_bytes);
    w.key("stderr_dropped");
    w.num(e.stderr_dropped);
    w.key("stdout_bytes");
    w.num(e.stdout_bytes);
    w.key("stdout_dropped");
    w.num(e.stdout_dropped);
    w.key("worker");
    w.str(e.worker);
    w.close('}');
  }
  w.close(']');
  w.key("exit_code");
  w.opt(j.exit_code);
  w.key("history");
  w.open('[');
  for (const auto& h : j.history) {
    w.item();
    w.open('{');
    w.key("event");
    w.str(h.message);
    w.key("time");
    w.str(format_time(h.time_ns));
    w.key("topic");
    w.str(h.topic);
    w.close('}');
  }
  w.close(']');
  w.key("id");
  w.str(j.id);
  w.key("message");
  w.str(j.message);
  w.key("modified");
  w.str(format_time(j.modified_ns));
  w.key("name");
  w.str(j.spec.name);
  w.key("output_files");
  w.open('[');
  for (const auto& f : j.output_files) {
    w.item();
    w.open('{');
    w.key("name");
    w.str(f.name);
    w.key("path");
    w.str(f.path);
    w.key("size");
    w.num(f.size);
    w.close('}');
  }
  w.close(']');
  w.key("outputs_message");
  w.str(j.outputs_message);
  w.key("revision");
  w.num(j.revision);
  w.key("spec");
  write_spec(w, j.spec);
  w.key("state");
  w.str(state_name(j.state));
  w.key("type");
  w.str("batch");
  w.close('}');
  return std::move(w.out);
}

}  // namespace shoal::jobs
