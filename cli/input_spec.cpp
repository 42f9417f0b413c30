#include "cli/input_spec.h"

#include <sys/stat.h>

#include <vector>

#include "protocol/job_json.h"
#include "protocol/names.h"

namespace shoal::cli {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// The scheme of "scheme://...", lower-cased, or "" when `s` does not start
// with one.
std::string scheme_of(std::string_view s) {
  if (s.empty() || !is_alpha(s[0])) return "";
  size_t i = 1;
  while (i < s.size() &&
         (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
    ++i;
  if (s.substr(i).starts_with("://")) return lower(s.substr(0, i));
  return "";
}

// The last ':' at or after `from` that is followed by '/' but not by "//":
// where an absolute guest path begins.
size_t find_target_separator(std::string_view s, size_t from) {
  for (size_t i = s.size(); i-- > from;) {
    if (s[i] != ':' || i + 1 >= s.size() || s[i + 1] != '/') continue;
    if (i + 2 < s.size() && s[i + 2] == '/') continue;
    return i;
  }
  return std::string_view::npos;
}

// Checks the host and port of an http(s) URL and returns where they end:
// the target separator is searched for from there, so a port's ':' is never
// taken for it.
std::expected<size_t, std::string> check_authority(std::string_view url) {
  for (unsigned char c : url)
    if (c <= 0x20 || c == 0x7f)
      return std::unexpected(std::string("the URL contains a space or a control character"));
  size_t start = url.find("://") + 3;
  size_t end = url.find_first_of("/?#", start);
  if (end == std::string_view::npos) end = url.size();
  size_t at = url.substr(start, end - start).rfind('@');
  size_t host = at == std::string_view::npos ? start : start + at + 1;
  size_t i = host;
  if (i < end && url[i] == '[') {
    size_t close = url.find(']', i);
    if (close == std::string_view::npos || close >= end)
      return std::unexpected(std::string("the URL's IPv6 address has no closing ']'"));
    i = close + 1;
  } else {
    while (i < end && url[i] != ':') ++i;
  }
  if (i == host) return std::unexpected(std::string("the URL has no host"));
  if (i >= end || url[i] != ':') return i;
  // A port, unless this ':' starts the target ("http://host:/inputs/x").
  size_t digits = i + 1;
  size_t j = digits;
  while (j < url.size() && is_digit(url[j])) ++j;
  if (j == digits) {
    if (j < url.size() && url[j] == '/') return i;
    return std::unexpected(std::string("the URL's port is empty"));
  }
  std::string_view port = url.substr(digits, j - digits);
  bool follows_ok = j == url.size() || url[j] == '/' || url[j] == '?' || url[j] == '#' ||
                    (url[j] == ':' && j + 1 < url.size() && url[j + 1] == '/');
  unsigned long value = 0;
  for (char c : port) value = std::min(value * 10 + static_cast<unsigned long>(c - '0'), 100000ul);
  if (!follows_ok) {
    size_t stop = url.find_first_of("/?#", digits);
    if (stop == std::string_view::npos) stop = url.size();
    return std::unexpected("the port \"" + std::string(url.substr(digits, stop - digits)) +
                           "\" is not a number from 1 to 65535");
  }
  if (value < 1 || value > 65535)
    return std::unexpected("the port \"" + std::string(port) +
                           "\" is not a number from 1 to 65535");
  return j;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// A source, with the target split off when allowed (SRC[:DST]; not for
// src=, whose value is all source).
struct Source {
  SourceKind kind = SourceKind::local;
  std::string source;
  std::optional<std::string> target;
  size_t path_start = 0;  // for a URL: where its path begins
};

std::expected<Source, std::string> split_source(std::string_view s, bool split_target) {
  if (s.empty()) return std::unexpected(std::string("the source is empty"));
  std::string scheme = scheme_of(s);
  Source r;
  size_t search_from = 0;
  if (scheme == "http" || scheme == "https") {
    auto end = check_authority(s);
    if (!end) return std::unexpected(end.error());
    r.kind = SourceKind::url;
    r.path_start = *end;
    search_from = *end;
  } else if (scheme == "file") {
    s.remove_prefix(7);
    if (s.empty()) return std::unexpected(std::string("file:// needs a path"));
  } else if (!scheme.empty()) {
    return std::unexpected("unsupported scheme \"" + scheme +
                           "\" (shoal takes http and https URLs, and local paths)");
  }
  size_t sep = split_target ? find_target_separator(s, search_from) : std::string_view::npos;
  if (sep == std::string_view::npos) {
    r.source = s;
  } else {
    r.source = s.substr(0, sep);
    r.target = std::string(s.substr(sep + 1));
  }
  if (r.source.empty()) return std::unexpected(std::string("the source is empty"));
  return r;
}

// The last segment of a URL's path, %-decoded, or an error when there is no
// usable one.
std::expected<std::string, std::string> url_file_name(const Source& src) {
  std::string_view url = src.source;
  std::string_view path = url.substr(src.path_start);
  path = path.substr(0, path.find_first_of("?#"));
  std::string name = percent_decode(path.substr(path.rfind('/') + 1));
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    return std::unexpected(std::string(
        "the URL's path has no file name for the default target; give one as URL:/inputs/NAME"));
  return name;
}

std::string local_file_name(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return std::string(path.substr(path.rfind('/') + 1));
}

// --input's keys, as Bacalhau spells them.
enum class Key { src, dst, opt };
std::optional<Key> key_named(std::string_view name) {
  auto k = lower(name);
  if (k == "src" || k == "source") return Key::src;
  if (k == "dst" || k == "target" || k == "destination") return Key::dst;
  if (k == "opt" || k == "option") return Key::opt;
  return std::nullopt;
}

// Whether a KEY=... field (known key) or a quoted field starts at `i`.
bool field_starts(std::string_view s, size_t i) {
  if (i >= s.size()) return false;
  if (s[i] == '"') return true;
  size_t eq = s.find('=', i);
  return eq != std::string_view::npos && key_named(s.substr(i, eq - i)).has_value();
}

// Splits the comma-separated fields from `i` on. A field ends at a comma
// that starts another field (KEY= or a quote), so that a URL with commas in
// its query needs no quoting; a "quoted" field may contain anything.
std::expected<std::vector<std::string>, std::string> split_fields(std::string_view s, size_t i) {
  std::vector<std::string> fields;
  while (i < s.size()) {
    std::string field;
    if (s[i] == '"') {
      size_t j = i + 1;
      for (;; ++j) {
        if (j >= s.size())
          return std::unexpected(std::string("a quoted field has no closing '\"'"));
        if (s[j] != '"') {
          field += s[j];
        } else if (j + 1 < s.size() && s[j + 1] == '"') {
          field += '"';
          ++j;
        } else {
          break;
        }
      }
      i = j + 1;
      if (i < s.size() && s[i] != ',')
        return std::unexpected(std::string("a quoted field must be followed by ',' or the end"));
    } else {
      size_t j = i;
      while (j < s.size() && !(s[j] == ',' && field_starts(s, j + 1))) ++j;
      field = s.substr(i, j - i);
      i = j;
    }
    fields.push_back(std::move(field));
    if (i < s.size()) ++i;  // the comma
  }
  return fields;
}

// The fields of an input's value: its source, its target, its options.
struct InputFields {
  std::optional<Source> src;
  std::optional<std::string> dst;
  std::map<std::string, std::string> options;

  // One KEY=VALUE field.
  std::expected<void, std::string> add(const std::string& field) {
    size_t eq = field.find('=');
    auto key = eq == std::string::npos ? std::nullopt : key_named(field.substr(0, eq));
    if (!key) return std::unexpected("\"" + field + "\" is not src=, dst= or opt=");
    std::string_view v = std::string_view(field).substr(eq + 1);
    switch (*key) {
      case Key::src: {
        if (src) return std::unexpected(std::string("the source is given twice"));
        auto s = split_source(v, false);
        if (!s) return std::unexpected(s.error());
        src = *s;
        break;
      }
      case Key::dst:
        if (dst) return std::unexpected(std::string("the target is given twice"));
        dst = std::string(v);
        break;
      case Key::opt: {
        size_t oeq = v.find('=');
        if (oeq == std::string_view::npos || oeq == 0)
          return std::unexpected("opt=" + std::string(v) + " is not opt=KEY=VALUE");
        std::string k(v.substr(0, oeq));
        if (!options.emplace(k, std::string(v.substr(oeq + 1))).second)
          return std::unexpected("the option \"" + k + "\" is given twice");
        break;
      }
    }
    return {};
  }
};

// The fields of `value`: SRC[:DST] maybe followed by ,KEY=VALUE fields, or
// KEY=VALUE fields alone.
std::expected<InputFields, std::string> input_fields(std::string_view value) {
  InputFields f;
  size_t fields_from = 0;
  if (!field_starts(value, 0)) {
    size_t end = 0;
    while (end < value.size() && !(value[end] == ',' && field_starts(value, end + 1))) ++end;
    auto bare = split_source(value.substr(0, end), true);
    if (!bare) return std::unexpected(bare.error());
    f.src = *bare;
    f.dst = bare->target;
    fields_from = end < value.size() ? end + 1 : end;
  }
  auto fields = split_fields(value, fields_from);
  if (!fields) return std::unexpected(fields.error());
  for (const auto& field : *fields)
    if (auto ok = f.add(field); !ok) return std::unexpected(ok.error());
  if (!f.src) return std::unexpected(std::string("no src= given"));
  return f;
}

// Where an input without dst= appears: /inputs/NAME for a URL or a file,
// /inputs for a directory.
std::expected<std::string, std::string> default_target(const Source& src, const InputFlag& in) {
  if (in.kind == SourceKind::url) {
    auto name = url_file_name(src);
    if (!name) return std::unexpected(name.error());
    return "/inputs/" + *name;
  }
  if (in.is_directory) return std::string("/inputs");
  std::string name = local_file_name(in.source);
  if (name.empty() || name == "." || name == "..")
    return std::unexpected(
        std::string("no file name for the default target; give one as PATH:/inputs/NAME"));
  return "/inputs/" + name;
}

std::expected<InputFlag, std::string> parse_input_value(std::string_view value,
                                                        const PathProbe& probe) {
  auto f = input_fields(value);
  if (!f) return std::unexpected(f.error());
  InputFlag in;
  in.kind = f->src->kind;
  in.source = f->src->source;
  in.options = std::move(f->options);
  if (in.kind == SourceKind::local) {
    switch (probe(in.source)) {
      case PathKind::missing: {
        // The value is the path itself most often; naming it twice reads badly.
        std::string cause = in.source == value ? "no such file or directory"
                                               : in.source + ": no such file or directory";
        if (in.source.find(':') != std::string::npos)
          cause += " (a target after ':' must be an absolute guest path)";
        return std::unexpected(cause);
      }
      case PathKind::directory:
        in.is_directory = true;
        break;
      case PathKind::file:
        break;
    }
  }
  auto target = f->dst ? normalize_guest_path(*f->dst) : default_target(*f->src, in);
  if (!target) return std::unexpected(target.error());
  if (*target == "/" && !in.is_directory)
    return std::unexpected(std::string(jobs::kRootNeedsDirectory));
  in.target = *target;
  return in;
}

}  // namespace

std::expected<InputFlag, std::string> parse_input(std::string_view value, const PathProbe& probe) {
  if (value.empty()) return std::unexpected(std::string("--input: the value is empty"));
  auto r = parse_input_value(value, probe);
  if (!r) return std::unexpected("--input " + std::string(value) + ": " + r.error());
  return r;
}

std::expected<OutputFlag, std::string> parse_output(std::string_view value) {
  auto fail = [&](const std::string& why) {
    return std::unexpected("--output " + std::string(value) + ": " + why);
  };
  if (value.empty()) return std::unexpected(std::string("--output: the value is empty"));
  size_t colon = value.find(':');
  if (colon == std::string_view::npos)
    return fail("expected NAME:PATH, e.g. results:/outputs/results");
  OutputFlag out;
  out.name = value.substr(0, colon);
  if (out.name.empty()) return fail("the name before ':' is empty");
  if (auto ok = names::check_output_name(out.name); !ok) return fail(ok.error());
  auto path = normalize_guest_path(value.substr(colon + 1));
  if (!path) return fail(path.error());
  if (*path == "/") return fail("an output cannot be / itself; name a directory such as /outputs");
  out.path = *path;
  return out;
}

std::expected<ModuleArg, std::string> parse_module(std::string_view value) {
  auto fail = [&](const std::string& why) {
    return std::unexpected("module " + std::string(value) + ": " + why);
  };
  if (value.empty()) return std::unexpected(std::string("module: the value is empty"));
  auto src = split_source(value, true);
  if (!src) return fail(src.error());
  ModuleArg m;
  m.kind = src->kind;
  m.source = src->source;
  if (src->target) {
    auto t = normalize_guest_path(*src->target);
    if (!t) return fail(t.error());
    if (*t == "/") return fail("a module is a file, it cannot be mounted at / itself");
    m.target = *t;
  }
  return m;
}

}  // namespace shoal::cli
