#include "protocol/job_json.h"

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <map>
#include <set>

#include "protocol/constraints.h"
#include "protocol/job_schema.h"
#include "protocol/names.h"

namespace shoal::jobs {

using nlohmann::json;

std::string format_time(int64_t ns) {
  if (ns == 0) return "";
  time_t secs = static_cast<time_t>(ns / 1'000'000'000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>((ns / 1'000'000) % 1000));
  return buf;
}

namespace {

using schema::Flow;

// The JSON tree of each kind of member schema::fields lists. With
// `submission`, only the keys a submission carries (Flow::written left out).
struct Tree {
  bool submission = false;

  json operator()(const std::string& s) const { return s; }
  json operator()(bool b) const { return b; }
  json operator()(std::unsigned_integral auto n) const { return n; }
  json operator()(const std::optional<int32_t>& n) const { return n ? json(*n) : json(nullptr); }
  json operator()(const std::vector<std::string>& v) const { return v; }
  json operator()(const std::map<std::string, std::string>& m) const { return m; }
  template <class M>
  json operator()(const schema::Seconds<M>& s) const {
    return static_cast<double>(s.ms) / 1000.0;
  }
  template <class M>
  json operator()(const schema::MemoryBytes<M>& m) const {
    return m.bytes;
  }
  json operator()(const schema::Time& t) const { return format_time(t.ns); }
  json operator()(const schema::State& s) const { return std::string(state_name(s.state)); }
  json operator()(const schema::Constant& c) const { return c.text; }
  template <schema::Described T>
  json operator()(const std::vector<T>& items) const {
    json out = json::array();
    for (const auto& x : items) out.push_back((*this)(x));
    return out;
  }
  template <schema::Described T>
  json operator()(const T& value) const {
    json out = json::object();
    schema::fields(value, [&](const char* key, const auto& member, Flow flow) {
      if (!submission || flow != Flow::written) out[key] = (*this)(member);
    });
    return out;
  }
};

}  // namespace

json to_json(const JobSpec& s) {
  return Tree{}(s);
}

json to_json(const Job& j) {
  return Tree{}(j);
}

json submission_json(const JobSpec& s) {
  static const json defaults = Tree{true}(JobSpec{});
  json out = Tree{true}(s);
  for (const auto& [key, value] : defaults.items())
    if (out[key] == value) out.erase(key);
  return out;
}

std::optional<std::string> field_with_nul(const json& j, const std::string& at) {
  auto inside = [&](const std::string& key) { return at.empty() ? key : at + "." + key; };
  if (j.is_string()) {
    if (j.get_ref<const std::string&>().find('\0') != std::string::npos)
      return at.empty() ? "the body" : at;
  } else if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if (key.find('\0') != std::string::npos) return at.empty() ? "a key" : "a key in " + at;
      if (auto f = field_with_nul(value, inside(key))) return f;
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i)
      if (auto f = field_with_nul(j[i], (at.empty() ? "" : at) + "[" + std::to_string(i) + "]"))
        return f;
  }
  return std::nullopt;
}

std::expected<uint64_t, std::string> whole_number(const json& j, const char* field,
                                                  uint64_t fallback, uint64_t max,
                                                  const std::string& why_max,
                                                  const std::string& unit) {
  if (!j.contains(field)) return fallback;
  const json& v = j.at(field);
  if (v.is_number_unsigned() && v.get<uint64_t>() <= max) return v.get<uint64_t>();
  if (v.is_number_unsigned())
    return std::unexpected(std::string(field) + " " + v.dump() + " is over " + why_max);
  if (v.is_number_integer())
    return std::unexpected(std::string(field) + " " + v.dump() + " is negative");
  return std::unexpected(std::string(field) + " must be a whole number" +
                         (unit.empty() ? "" : " of " + unit) + ", not " + v.dump());
}

std::expected<uint64_t, std::string> timeout_ms_from_seconds(double timeout,
                                                             const std::string& field,
                                                             std::string shown) {
  if (shown.empty()) shown = json(timeout).dump();
  if (!(timeout >= 0)) return std::unexpected(field + " " + shown + " is negative");
  if (timeout > kMaxTimeoutS)
    return std::unexpected(field + " " + shown + " is over the most, " +
                           std::to_string(static_cast<uint64_t>(kMaxTimeoutS)) +
                           " (ten years); 0 means no timeout");
  if (timeout > 0 && timeout < 0.001)
    return std::unexpected(field + " " + shown +
                           " is shorter than a millisecond, the smallest timeout; 0 means no "
                           "timeout");
  return static_cast<uint64_t>(timeout * 1000.0 + 0.5);
}

namespace {

// A value that does not fit its field; ends the read (spec_from_json).
struct Refused {
  std::string message;
};

// Reads members of schema::fields from JSON, naming the field at fault
// ("inputs[0].target"). Keys the broker fills (Flow::written) are not read.
struct Reader {
  static void check(bool ok, const std::string& at, const char* what, const json& v) {
    if (!ok) throw Refused{at + " must be " + what + ", not " + v.dump()};
  }
  void operator()(const json& parent, const char* key, std::string& s, const std::string& at) {
    const json& v = parent.at(key);
    check(v.is_string(), at, "a string", v);
    s = v.get<std::string>();
  }
  void operator()(const json& parent, const char* key, bool& b, const std::string& at) {
    const json& v = parent.at(key);
    check(v.is_boolean(), at, "true or false", v);
    b = v.get<bool>();
  }
  void operator()(const json& parent, const char* key, uint64_t& n, const std::string& at) {
    const json& v = parent.at(key);
    check(v.is_number_unsigned(), at, "a whole number", v);
    n = v.get<uint64_t>();
  }
  void operator()(const json& parent, const char* key, std::vector<std::string>& v,
                  const std::string& at) {
    const json& a = parent.at(key);
    check(a.is_array(), at, "a list of strings", a);
    v.clear();
    for (size_t i = 0; i < a.size(); ++i) {
      const std::string item = at + "[" + std::to_string(i) + "]";
      check(a[i].is_string(), item, "a string", a[i]);
      v.push_back(a[i].get<std::string>());
    }
  }
  void operator()(const json& parent, const char* key, std::map<std::string, std::string>& m,
                  const std::string& at) {
    const json& o = parent.at(key);
    check(o.is_object(), at, "an object of strings", o);
    m.clear();
    for (const auto& [k, v] : o.items()) {
      check(v.is_string(), at + "." + k, "a string", v);
      m[k] = v.get<std::string>();
    }
  }
  void operator()(const json& parent, const char* key, schema::Seconds<uint64_t> s,
                  const std::string& at) {
    const json& t = parent.at(key);
    if (!t.is_number()) throw Refused{at + " must be a number, not " + t.dump()};
    auto ms = timeout_ms_from_seconds(t.get<double>(), at, t.dump());
    if (!ms) throw Refused{ms.error()};
    s.ms = *ms;
  }
  void operator()(const json& parent, const char* key, schema::MemoryBytes<uint64_t> m,
                  const std::string&) {
    auto memory = whole_number(parent, key, 0, kMaxMemoryBytes,
                               "4 GiB, the most a wasm32 module's memory can hold", "bytes");
    if (!memory) throw Refused{memory.error()};
    if (*memory != 0 && *memory < kWasmPage)
      throw Refused{std::string(key) + " " + std::to_string(*memory) +
                    " is less than one WebAssembly page (65536 bytes, 64 KiB)"};
    m.bytes = *memory;
  }
  template <schema::Described T>
  void operator()(const json& parent, const char* key, std::vector<T>& items,
                  const std::string& at) {
    const json& a = parent.at(key);
    check(a.is_array(), at, "a list of objects", a);
    items.clear();
    for (size_t i = 0; i < a.size(); ++i)
      object(a[i], items.emplace_back(), at + "[" + std::to_string(i) + "]");
  }
  // The fields of `value` from the object `j`; keys it does not list are
  // left for the caller to judge.
  template <schema::Described T>
  void object(const json& j, T& value, const std::string& at) {
    check(j.is_object(), at.empty() ? "the spec" : at, "an object", j);
    schema::fields(value, [&](const char* key, auto&& member, schema::Flow flow) {
      if (flow == schema::Flow::written) return;
      const std::string path = at.empty() ? key : at + "." + key;
      if (j.contains(key))
        (*this)(j, key, member, path);
      else if (flow == schema::Flow::required)
        throw Refused{path + " is missing"};
    });
  }
};

// The top-level keys a submission may hold: the spec's, and the submit
// command's own (docs/protocol.md).
const std::set<std::string>& known_keys() {
  static const std::set<std::string> known = [] {
    std::set<std::string> k = {"watch", "array"};
    JobSpec s;
    schema::fields(s, [&](const char* key, auto&&, schema::Flow) { k.insert(key); });
    return k;
  }();
  return known;
}

}  // namespace

std::expected<JobSpec, std::string> spec_from_json(const json& j, bool check_values) {
  if (!j.is_object()) return std::unexpected(std::string("the spec is not a JSON object"));
  for (const auto& [key, value] : j.items())
    if (!known_keys().contains(key))
      return std::unexpected("unknown field '" + names::printable(key) + "' in the spec");
  // A NUL byte would end the string early wherever it becomes a path, an
  // argument or a variable: what runs would not be what was asked.
  if (auto f = field_with_nul(j)) return std::unexpected(*f + " contains a NUL byte");
  JobSpec s;
  try {
    Reader{}.object(j, s, "");
  } catch (const Refused& r) {
    return std::unexpected(r.message);
  }
  if (!check_values) return s;
  if (auto ok = check_spec(s); !ok) return std::unexpected(ok.error());
  return s;
}

std::expected<std::optional<ArraySpec>, std::string> array_from_json(const json& body) {
  if (!body.is_object() || !body.contains("array")) return std::nullopt;
  const json& a = body.at("array");
  if (!a.is_object()) return std::unexpected("array must be an object, not " + a.dump());
  ArraySpec out;
  std::set<std::string> known;
  schema::fields(out, [&](const char* key, auto&&, schema::Flow) { known.insert(key); });
  for (const auto& [key, value] : a.items())
    if (!known.contains(key))
      return std::unexpected("unknown field '" + names::printable(key) + "' in array");
  try {
    Reader{}.object(a, out, "array");
  } catch (const Refused& r) {
    return std::unexpected(r.message);
  }
  return out;
}

json to_json(const ArraySpec& a) {
  return Tree{}(a);
}

namespace {

// "/a//./b/" -> "/a/b" (".." kept as written, as the worker compares them).
std::string normal_guest_path(const std::string& path) {
  std::string out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = std::min(path.find('/', i), path.size());
    std::string part = path.substr(i, j - i);
    if (!part.empty() && part != ".") out += "/" + part;
    i = j + 1;
  }
  return out.empty() ? "/" : out;
}

std::string parent_of(const std::string& normal) {
  auto slash = normal.rfind('/');
  return slash == 0 ? "/" : normal.substr(0, slash);
}

}  // namespace

std::vector<OutputSpec> effective_outputs(const JobSpec& spec) {
  std::vector<OutputSpec> out = spec.outputs;
  const bool claimed = std::ranges::any_of(out, [](const auto& o) { return o.path == "/outputs"; });
  if (spec.default_output && !claimed) out.insert(out.begin(), {"outputs", "/outputs"});
  return out;
}

std::vector<GuestMount> guest_mounts(const JobSpec& s) {
  using Kind = GuestMount::Kind;
  std::vector<GuestMount> out;
  for (const auto& o : effective_outputs(s)) {
    const bool implied =
        s.default_output && o.path == "/outputs" &&
        std::ranges::none_of(s.outputs, [](const auto& x) { return x.path == "/outputs"; });
    out.push_back({o.path, Kind::directory,
                   implied ? "the default output /outputs"
                           : "output " + o.name + ":" + names::printable(o.path)});
  }
  for (const auto& i : s.inputs)
    out.push_back({i.target, i.is_url() ? Kind::file : Kind::unknown,
                   "input " + names::printable(i.source) + ":" + names::printable(i.target)});
  for (const auto& i : s.inline_inputs)
    out.push_back({i.target, Kind::file, "inline input " + names::printable(i.target)});
  return out;
}

std::expected<void, std::string> check_guest_mounts(const std::vector<GuestMount>& mounts) {
  std::map<std::string, const GuestMount*> at;  // normalised path -> its mount
  for (const auto& m : mounts) {
    auto [it, fresh] = at.emplace(normal_guest_path(m.path), &m);
    if (!fresh)
      return std::unexpected(it->second->shown + " and " + m.shown + " both claim " + it->first);
  }
  if (auto root = at.find("/"); root != at.end() && root->second->kind == GuestMount::Kind::file)
    return std::unexpected(root->second->shown + ": " + std::string(kRootNeedsDirectory));
  for (const auto& [path, m] : at) {
    if (path == "/" || m->kind == GuestMount::Kind::directory) continue;
    auto parent = at.find(parent_of(path));
    if (parent != at.end() && parent->second->kind == GuestMount::Kind::directory)
      return std::unexpected(parent->second->shown + " and " + m->shown + " both claim " +
                             parent->first);
  }
  return {};
}

std::expected<void, std::string> check_spec(const JobSpec& s) {
  for (const auto& e : s.env)
    if (e.find('=') == std::string::npos || e.front() == '=')
      return std::unexpected("env entry '" + names::printable(e) + "' is not KEY=VALUE");
  for (const auto& i : s.inputs)
    if (i.target.empty() || i.target.front() != '/')
      return std::unexpected("input " + names::printable(i.source) + ": the target '" +
                             names::printable(i.target) + "' is not an absolute path");
  std::set<std::string> output_names;
  for (const auto& o : s.outputs) {
    if (auto ok = names::check_output_name(o.name); !ok)
      return std::unexpected("output " + names::printable(o.name) + ":" + names::printable(o.path) +
                             ": " + ok.error());
    if (o.path.empty() || o.path.front() != '/')
      return std::unexpected("output " + o.name + ":" + names::printable(o.path) +
                             ": the path is not absolute");
    if (normal_guest_path(o.path) == "/")
      return std::unexpected("output " + o.name +
                             ":/: an output cannot be / itself; name a directory such as /outputs");
    if (!output_names.insert(o.name).second)
      return std::unexpected("two outputs are named '" + o.name +
                             "'; each output needs a name of its own");
  }
  if (auto sel = parse_selector(s.constraints); !sel)
    return std::unexpected("constraints: " + sel.error());
  for (const auto& i : s.inline_inputs)
    if (i.target.empty() || i.target.front() != '/')
      return std::unexpected("inline input: the target '" + names::printable(i.target) +
                             "' is not an absolute path");
  std::set<std::string> import_names;
  for (const auto& m : s.import_modules) {
    if (m.name.empty()) return std::unexpected(std::string("an import module has no name"));
    if (m.name == "wasi_snapshot_preview1")
      return std::unexpected("import module " + names::printable(m.source) +
                             ": the name wasi_snapshot_preview1 belongs to WASI");
    if (!import_names.insert(m.name).second)
      return std::unexpected("two import modules are named '" + names::printable(m.name) + "'");
  }
  for (const auto& [key, value] : s.meta)
    if (key.empty()) return std::unexpected(std::string("meta: a key is empty"));
  if (auto ok = check_guest_mounts(guest_mounts(s)); !ok) return ok;
  if (s.entry_point.empty()) return std::unexpected(std::string("entry_point is empty"));
  return {};
}

}  // namespace shoal::jobs
