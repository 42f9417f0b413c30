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

#include "protocol/job_json.h"

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
  // "key":"value"
  void field(std::string_view k, std::string_view v) {
    key(k);
    str(v);
  }
  // An array of objects, each written by `fields`.
  template <class T, class F>
  void objects(const std::vector<T>& items, F&& fields) {
    open('[');
    for (const auto& x : items) {
      item();
      open('{');
      fields(x);
      close('}');
    }
    close(']');
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
  w.field("constraints", s.constraints);
  w.field("entry_point", s.entry_point);
  w.key("env");
  w.strings(s.env);
  w.key("import_modules");
  w.objects(s.import_modules, [&](const ImportModuleSpec& m) {
    w.field("name", m.name);
    w.field("sha256", m.hash);
    w.field("source", m.source);
  });
  w.key("inline_inputs");
  w.objects(s.inline_inputs, [&](const InlineInputSpec& i) {
    w.field("sha256", i.hash);
    w.key("size");
    w.num(i.size);
    w.field("target", i.target);
  });
  w.key("inputs");
  w.objects(s.inputs, [&](const InputSpec& i) {
    w.field("source", i.source);
    w.field("target", i.target);
  });
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
  w.field("module", s.module_name);
  w.field("module_sha256", s.module_hash);
  w.field("name", s.name);
  w.key("outputs");
  w.objects(s.outputs, [&](const OutputSpec& o) {
    w.field("name", o.name);
    w.field("path", o.path);
  });
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
  w.field("created", format_time(j.created_ns));
  w.field("engine", "wasm");
  w.key("executions");
  w.objects(j.executions, [&](const Execution& e) {
    w.key("attempt");
    w.num(e.attempt);
    w.field("ended", format_time(e.ended_ns));
    w.key("exit_code");
    w.opt(e.exit_code);
    w.field("id", e.id);
    w.field("message", e.message);
    w.field("started", format_time(e.started_ns));
    w.field("state", state_name(e.state));
    for (auto [name, n] : {std::pair{"stderr_bytes", e.stderr_bytes},
                           {"stderr_dropped", e.stderr_dropped},
                           {"stdout_bytes", e.stdout_bytes},
                           {"stdout_dropped", e.stdout_dropped}}) {
      w.key(name);
      w.num(n);
    }
    w.field("worker", e.worker);
  });
  w.key("exit_code");
  w.opt(j.exit_code);
  w.key("history");
  w.objects(j.history, [&](const Event& h) {
    w.field("event", h.message);
    w.field("time", format_time(h.time_ns));
    w.field("topic", h.topic);
  });
  w.field("id", j.id);
  w.field("message", j.message);
  w.field("modified", format_time(j.modified_ns));
  w.field("name", j.spec.name);
  w.key("output_files");
  w.objects(j.output_files, [&](const OutputFile& f) {
    w.field("name", f.name);
    w.field("path", f.path);
    w.key("size");
    w.num(f.size);
  });
  w.field("outputs_message", j.outputs_message);
  w.key("revision");
  w.num(j.revision);
  w.key("spec");
  write_spec(w, j.spec);
  w.field("state", state_name(j.state));
  w.field("type", "batch");
  w.close('}');
  return std::move(w.out);
}

}  // namespace shoal::jobs
