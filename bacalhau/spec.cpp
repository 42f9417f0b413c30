#include "bacalhau/spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "bacalhau/data_url.h"
#include "bacalhau/model.h"
#include "protocol/array.h"
#include "protocol/constraints.h"
#include "protocol/job_json.h"
#include "protocol/names.h"
#include "protocol/units.h"

namespace shoal::bacalhau {
namespace {

// A ResultPaths entry as shoal's output: the name checked as output names
// are (protocol/names.h), the path normalised.
std::expected<jobs::OutputSpec, std::string> result_path(const std::string& name,
                                                         const std::string& path) {
  if (name.empty()) return std::unexpected(std::string("the name before ':' is empty"));
  if (auto ok = names::check_output_name(name); !ok) return std::unexpected(ok.error());
  auto guest = normalize_guest_path(path);
  if (!guest) return std::unexpected(guest.error());
  return jobs::OutputSpec{name, *guest};
}

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_url(const std::string& s) {
  return s.starts_with("http://") || s.starts_with("https://");
}

// JSON read with nlohmann (for its line/column messages), then handed to
// the same walker as YAML.
YAML::Node to_yaml(const ordered_json& j) {
  if (j.is_object()) {
    YAML::Node n(YAML::NodeType::Map);
    for (auto it = j.begin(); it != j.end(); ++it) n[it.key()] = to_yaml(it.value());
    return n;
  }
  if (j.is_array()) {
    YAML::Node n(YAML::NodeType::Sequence);
    for (const auto& v : j) n.push_back(to_yaml(v));
    return n;
  }
  if (j.is_null()) return YAML::Node(YAML::NodeType::Null);
  if (j.is_string()) return YAML::Node(j.get<std::string>());
  return YAML::Node(j.dump());
}

std::expected<YAML::Node, std::string> parse_text(std::string_view text, std::string_view origin) {
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '{') {
    try {
      return to_yaml(ordered_json::parse(text));
    } catch (const json::parse_error& e) {
      // "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
      std::string what = e.what();
      if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
      return std::unexpected(std::string(origin) + ": not valid JSON: " + what);
    }
  }
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return std::unexpected(std::string(origin) + ": not valid YAML: line " +
                           std::to_string(e.mark.line + 1) + ", column " +
                           std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

// One input source as read, before the modules claim theirs.
struct Source {
  std::string path;  // e.g. Tasks[0].InputSources[2]
  enum class Kind { url, local, inline_data } kind = Kind::local;
  std::string value;  // the URL, the absolute local path, or the data: URL
  std::string bytes;  // inline_data: decoded
  std::string target;
  bool read_write = false;  // local: Params.ReadWrite
  bool claimed = false;     // taken as a module
};

class Reader {
 public:
  Reader(std::string base_dir, const PathProbe& probe)
      : base_(std::move(base_dir)), probe_(probe) {}

  std::vector<std::string> errors;
  std::vector<std::string> warnings;

  // `path` (canonical field names) named as the spec wrote it.
  void error(const std::string& path, const std::string& message) {
    errors.push_back(prefix_ + as_written(path) + ": " + message);
  }

  // The path with each key spelled as the spec wrote it: the longest
  // recorded prefix (ending at a '.' or '[') replaced.
  std::string as_written(const std::string& path) const {
    for (size_t end = path.size(); end > 0;) {
      if (auto it = written_.find(path.substr(0, end)); it != written_.end())
        return it->second + path.substr(end);
      size_t b = path.find_last_of(".[", end - 1);
      if (b == std::string::npos) break;
      end = b;
    }
    return path;
  }

  // The known key `key` names: itself, else the first one equal to it
  // ignoring case (as Bacalhau's decoding matches fields); "" for none.
  static std::string canonical(const std::string& key, const std::set<std::string>& known) {
    if (known.contains(key)) return key;
    for (const auto& k : known)
      if (lower(k) == lower(key)) return k;
    return "";
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  // A map's keys, each unknown one reported. Keys are matched ignoring
  // case and renamed in place to the known spelling (messages keep the
  // spec's). False when `n` is not a map (and not null); a null is an
  // empty map.
  bool check_map(const YAML::Node& n, const std::string& path, std::set<std::string> known) {
    if (!n || n.IsNull()) return false;
    if (!n.IsMap()) {
      error(path, "expected a mapping of fields");
      return false;
    }
    std::vector<std::pair<std::string, std::string>> renames;  // as written, known
    std::map<std::string, std::string> seen;                   // known -> as written
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string key = it->first.Scalar(), known_key = canonical(key, known);
      if (known_key.empty()) {
        error(join(path, key), "not supported by shoal");
      } else if (auto [at, fresh] = seen.emplace(known_key, key); !fresh) {
        error(join(path, key), "given twice (also as " + at->second + ")");
      } else if (known_key != key) {
        renames.emplace_back(key, known_key);
      }
    }
    YAML::Node map = n;  // the same node: a rename is seen by every reader
    for (const auto& [key, known_key] : renames) {
      YAML::Node value = map[key];
      map.remove(key);
      map[known_key] = value;
      written_[join(path, known_key)] = join(as_written(path), key);
    }
    return true;
  }

  static bool present(const YAML::Node& n) { return n && !n.IsNull(); }

  std::optional<std::string> scalar(const YAML::Node& n, const std::string& path) {
    if (!present(n)) return std::nullopt;
    if (!n.IsScalar()) {
      error(path, "expected a single value");
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<double> number(const YAML::Node& n, const std::string& path) {
    auto s = scalar(n, path);
    if (!s) return std::nullopt;
    double v = 0;
    auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    if (ec != std::errc() || p != s->data() + s->size() || !std::isfinite(v)) {
      error(path, "'" + *s + "' is not a number");
      return std::nullopt;
    }
    return v;
  }

  // Bacalhau's Constraints (a list of {Key, Operator, Values}, operators as
  // Kubernetes' label selectors) as shoal's selector text: "zone=a,gpu".
  std::string constraints(const YAML::Node& n) {
    if (!present(n)) return "";
    if (!n.IsSequence()) {
      error("Constraints", "expected a list of {Key, Operator, Values}");
      return "";
    }
    std::string out;
    for (size_t i = 0; i < n.size(); ++i) {
      const std::string path = "Constraints[" + std::to_string(i) + "]";
      if (!check_map(n[i], path, {"Key", "Operator", "Values"})) {
        if (!present(n[i])) error(path, "expected {Key, Operator, Values}");
        continue;
      }
      auto key = scalar(n[i]["Key"], path + ".Key");
      auto op = scalar(n[i]["Operator"], path + ".Operator");
      std::vector<std::string> values = strings(n[i]["Values"], path + ".Values");
      if (!key || key->empty() || !op) {
        error(path, "needs a Key and an Operator");
        continue;
      }
      auto list = [&] {
        std::string l;
        for (const auto& v : values) l += (l.empty() ? "" : ",") + v;
        return l;
      };
      auto one = [&](const char* sep) -> std::optional<std::string> {
        if (values.size() != 1) {
          error(path + ".Values", "operator '" + *op + "' takes exactly one value");
          return std::nullopt;
        }
        return *key + sep + values[0];
      };
      std::optional<std::string> req;
      const std::string o = lower(*op);
      if (o == "=" || o == "==")
        req = one("=");
      else if (o == "!=")
        req = one("!=");
      else if (o == "gt")
        req = one(">");
      else if (o == "lt")
        req = one("<");
      else if (o == "in" || o == "notin") {
        if (values.empty())
          error(path + ".Values", "operator '" + *op + "' needs at least one value");
        else
          req = *key + " " + o + " (" + list() + ")";
      } else if (o == "exists")
        req = *key;
      else if (o == "!" || o == "doesnotexist")
        req = "!" + *key;
      else
        error(path + ".Operator",
              "'" + *op + "' is not an operator (=, ==, !=, in, notin, exists, !, gt, lt)");
      if (req) out += (out.empty() ? "" : ",") + *req;
    }
    if (auto parsed = jobs::parse_selector(out); !parsed) {
      error("Constraints", parsed.error());
      return "";
    }
    return out;
  }

  std::vector<std::string> strings(const YAML::Node& n, const std::string& path) {
    std::vector<std::string> out;
    if (!present(n)) return out;
    if (!n.IsSequence()) {
      error(path, "expected a list");
      return out;
    }
    for (size_t i = 0; i < n.size(); ++i)
      if (auto s = scalar(n[i], path + "[" + std::to_string(i) + "]")) out.push_back(*s);
    return out;
  }

  // KEY=VALUE pairs in document order; a later key replaces an earlier one.
  void env_map(const YAML::Node& n, const std::string& path,
               std::vector<std::pair<std::string, std::string>>& env) {
    if (!present(n)) return;
    if (!n.IsMap()) {
      error(path, "expected a mapping of NAME: value");
      return;
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string key = it->first.Scalar();
      auto value = scalar(it->second, join(path, key));
      if (!value) {
        if (!present(it->second)) error(join(path, key), "needs a value");
        continue;
      }
      if (key.empty() || key.find('=') != std::string::npos) {
        error(join(path, key), "not a variable name");
        continue;
      }
      if (value->starts_with("env:")) {
        error(join(path, key),
              "values taken from the host's environment (env:NAME) are not supported by shoal");
        continue;
      }
      auto same =
          std::find_if(env.begin(), env.end(), [&](const auto& p) { return p.first == key; });
      if (same != env.end())
        same->second = *value;
      else
        env.emplace_back(key, *value);
    }
  }

  std::string absolute(const std::string& p) {
    fs::path path(p);
    if (path.is_relative()) path = fs::path(base_) / path;
    return path.lexically_normal().string();
  }

  // An InputSource {Source: {Type, Params}, Target}.
  std::optional<Source> input_source(const YAML::Node& n, const std::string& path) {
    if (!check_map(n, path, {"Source", "Target", "Alias"})) {
      if (!present(n)) error(path, "expected an input source");
      return std::nullopt;
    }
    bool ok = true;
    Source s;
    s.path = path;
    if (auto alias = scalar(n["Alias"], join(path, "Alias")); alias && !alias->empty())
      error(join(path, "Alias"), "not supported by shoal"), ok = false;
    auto target = scalar(n["Target"], join(path, "Target"));
    if (!target) {
      error(join(path, "Target"), "required (where the input appears in the program's files)");
      ok = false;
    } else if (auto t = normalize_guest_path(*target); !t) {
      error(join(path, "Target"), t.error());
      ok = false;
    } else {
      s.target = *t;
    }
    const std::string sp = join(path, "Source");
    const YAML::Node src = n["Source"];
    if (!check_map(src, sp, {"Type", "Params"})) {
      if (!present(src)) error(sp, "required");
      return std::nullopt;
    }
    auto type = scalar(src["Type"], join(sp, "Type"));
    if (!type) {
      error(join(sp, "Type"), "required (urlDownload, local or inline)");
      return std::nullopt;
    }
    const std::string t = lower(*type);
    const std::string pp = join(sp, "Params");
    if (t == "urldownload")
      ok = url_source(src["Params"], pp, s) && ok;
    else if (t == "local" || t == "localdirectory")
      ok = local_source(src["Params"], pp, s) && ok;
    else if (t == "inline")
      ok = inline_source(src["Params"], pp, s) && ok;
    else
      return error(join(sp, "Type"),
                   "'" + *type + "' is not supported by shoal (urlDownload, local or inline)"),
             std::nullopt;
    if (!ok) return std::nullopt;
    return s;
  }

  // The Params of a urlDownload source: {URL}.
  bool url_source(const YAML::Node& params, const std::string& pp, Source& s) {
    if (!check_map(params, pp, {"URL"})) {
      if (!present(params)) error(join(pp, "URL"), "required");
      return false;
    }
    auto url = scalar(params["URL"], join(pp, "URL"));
    if (!url) return error(join(pp, "URL"), "required"), false;
    if (!is_url(*url))
      return error(join(pp, "URL"), "'" + *url + "' is not an http or https URL"), false;
    s.kind = Source::Kind::url;
    s.value = *url;
    return true;
  }

  // The Params of a local source: {SourcePath, ReadWrite: false}.
  bool local_source(const YAML::Node& params, const std::string& pp, Source& s) {
    if (!check_map(params, pp, {"SourcePath", "ReadWrite", "CreateAs"})) {
      if (!present(params)) error(join(pp, "SourcePath"), "required");
      return false;
    }
    bool ok = true;
    if (auto rw = scalar(params["ReadWrite"], join(pp, "ReadWrite")); rw) {
      // The program changes a copy of its own (jobs::InputSpec::read_write).
      if (lower(*rw) != "true" && lower(*rw) != "false") {
        error(join(pp, "ReadWrite"), "'" + *rw + "' is neither true nor false");
        ok = false;
      }
      s.read_write = lower(*rw) == "true";
    }
    // Bacalhau's default (what describe prints): the path must exist.
    if (auto c = scalar(params["CreateAs"], join(pp, "CreateAs"));
        c && !c->empty() && lower(*c) != "nocreate") {
      error(join(pp, "CreateAs"),
            "'" + *c + "' is not supported by shoal (the source path must exist: noCreate)");
      ok = false;
    }
    auto p = scalar(params["SourcePath"], join(pp, "SourcePath"));
    if (!p || p->empty()) return error(join(pp, "SourcePath"), "required"), false;
    std::string local = *p;
    if (local.starts_with("file://")) local = local.substr(7);
    s.kind = Source::Kind::local;
    s.value = absolute(local);
    if (probe_(s.value) == PathKind::missing) {
      error(join(pp, "SourcePath"), s.value + ": no such file or directory");
      ok = false;
    }
    return ok;
  }

  // The Params of an inline source: {URL}, a data: URL.
  bool inline_source(const YAML::Node& params, const std::string& pp, Source& s) {
    if (!check_map(params, pp, {"URL", "Hash"})) {
      if (!present(params)) error(join(pp, "URL"), "required");
      return false;
    }
    auto url = scalar(params["URL"], join(pp, "URL"));
    if (!url && scalar(params["Hash"], join(pp, "Hash")))
      return error(join(pp, "URL"),
                   "required: describe shows an inline input by its Hash, without its bytes; "
                   "give them as a data: URL"),
             false;
    if (!url) return error(join(pp, "URL"), "required (a data: URL)"), false;
    auto d = decode_data_url(*url);
    if (!d) return error(join(pp, "URL"), "not a data: URL: " + d.error()), false;
    s.kind = Source::Kind::inline_data;
    s.value = *url;
    s.bytes = std::move(d->data);
    return true;
  }

  // EntryModule or an ImportModules entry.
  std::optional<ModuleRef> module(const YAML::Node& n, const std::string& path,
                                  std::vector<Source>& sources) {
    if (present(n) && n.IsMap()) {
      auto s = input_source(n, path);
      if (!s) return std::nullopt;
      return not_a_directory(from_source(*s), path);
    }
    auto value = scalar(n, path);
    if (!value || value->empty()) {
      error(path, "required (an InputSources Target, a URL or a local path)");
      return std::nullopt;
    }
    if (value->starts_with("/")) {
      auto t = normalize_guest_path(*value);
      for (auto& s : sources) {
        if (t && s.target == *t) {
          s.claimed = true;
          ModuleRef m = from_source(s);
          m.target = s.target;
          return not_a_directory(std::move(m), path);
        }
      }
    }
    ModuleRef m;
    if (is_url(*value)) {
      m.kind = ModuleRef::Kind::url;
      m.source = *value;
      return m;
    }
    std::string local = *value;
    if (local.starts_with("file://")) local = local.substr(7);
    m.kind = ModuleRef::Kind::local;
    m.source = absolute(local);
    PathKind k = probe_(m.source);
    if (k == PathKind::missing) {
      error(path, "'" + *value + "' is neither an InputSources Target nor a file (" + m.source +
                      ": no such file or directory)");
      return std::nullopt;
    }
    if (k == PathKind::directory) {
      error(path, m.source + " is a directory, not a module: name the .wasm file in it");
      return std::nullopt;
    }
    return m;
  }

  // `m`, unless it is a local directory (an input source may be one; a
  // module may not).
  std::optional<ModuleRef> not_a_directory(ModuleRef m, const std::string& path) {
    if (m.kind == ModuleRef::Kind::local && probe_(m.source) == PathKind::directory) {
      error(path, m.source + " is a directory, not a module: name the .wasm file in it");
      return std::nullopt;
    }
    return m;
  }

  static ModuleRef from_source(const Source& s) {
    ModuleRef m;
    m.target = s.target;
    switch (s.kind) {
      case Source::Kind::url:
        m.kind = ModuleRef::Kind::url;
        m.source = s.value;
        break;
      case Source::Kind::local:
        m.kind = ModuleRef::Kind::local;
        m.source = s.value;
        break;
      case Source::Kind::inline_data:
        m.kind = ModuleRef::Kind::inline_data;
        m.source = s.value;
        m.bytes = s.bytes;
        break;
    }
    return m;
  }

  std::expected<RunRequest, std::vector<std::string>> read(const YAML::Node& given);

 private:
  void task_meta(const YAML::Node& meta, const std::string& path);
  void stored_entry_module(const YAML::Node& n, std::vector<Source>& sources, RunRequest& r);
  YAML::Node unwrap(const YAML::Node& root);
  void job_fields(const YAML::Node& root, jobs::JobSpec& spec);
  std::optional<jobs::ArraySpec> array(const YAML::Node& n);
  std::map<std::string, std::string> string_map(const YAML::Node& n, const std::string& path);
  std::vector<Source> input_sources(const YAML::Node& task, const std::string& tp);
  void engine(const YAML::Node& task, const std::string& tp, std::vector<Source>& sources,
              RunRequest& r, std::vector<std::pair<std::string, std::string>>& env);
  void import_modules(const YAML::Node& imps, const std::string& path, std::vector<Source>& sources,
                      RunRequest& r);
  std::vector<jobs::OutputSpec> result_paths(const YAML::Node& task, const std::string& tp);
  void resources(const YAML::Node& task, const std::string& tp, jobs::JobSpec& spec);
  void timeouts(const YAML::Node& task, const std::string& tp, jobs::JobSpec& spec);
  void publisher_and_network(const YAML::Node& task, const std::string& tp);

  std::string base_;
  const PathProbe& probe_;
  std::map<std::string, std::string> written_;  // canonical path -> as written
  std::string prefix_;         // "Job." when the spec is describe's {Job, History, Executions}
  std::string stored_module_;  // the Task Meta's kModuleSha256Meta, else ""
};

// A task's Meta: only what describe writes there, the module's SHA-256
// (model.h); shoal keeps the job's Meta, not a task's.
void Reader::task_meta(const YAML::Node& meta, const std::string& path) {
  for (const auto& [key, value] : string_map(meta, path)) {
    if (key != kModuleSha256Meta) {
      error(path + "." + key, "not supported by shoal (give the job's Meta)");
      continue;
    }
    const bool hex = value.size() == 64 && std::all_of(value.begin(), value.end(), [](char c) {
                       return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                     });
    if (!hex)
      error(path + "." + key, "'" + value + "' is not a SHA-256 (64 lowercase hex digits)");
    else
      stored_module_ = value;
  }
}

// What `job describe --output json|yaml` prints, {Job, History,
// Executions}: the Job, the rest (state) ignored. Another spec: itself.
YAML::Node Reader::unwrap(const YAML::Node& root) {
  if (!root || !root.IsMap()) return root;
  std::string job_key;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string key = lower(it->first.Scalar());
    if (key == "tasks") return root;
    if (key == "job") job_key = it->first.Scalar();
  }
  if (job_key.empty()) return root;
  check_map(root, "", {"Job", "History", "Executions"});
  prefix_ = job_key + ".";
  return root["Job"];
}

std::expected<RunRequest, std::vector<std::string>> Reader::read(const YAML::Node& given) {
  RunRequest r;
  const YAML::Node root = unwrap(given);
  if (!root || !root.IsMap())
    return std::unexpected(
        std::vector<std::string>{"the spec is not a mapping of fields (Name, Type, Tasks, ...)"});
  job_fields(root, r.spec);
  r.array = array(root[kArrayKey]);
  const YAML::Node tasks = root["Tasks"];
  if (!present(tasks) || !tasks.IsSequence() || tasks.size() == 0) {
    error("Tasks", "required: a list of one task");
    return std::unexpected(errors);
  }
  if (tasks.size() > 1)
    error("Tasks", "shoal runs one task per job; this spec has " + std::to_string(tasks.size()));
  const std::string tp = "Tasks[0]";
  const YAML::Node task = tasks[0];
  if (!check_map(task, tp,
                 {"Name", "Engine", "Env", "InputSources", "ResultPaths", "Resources", "Timeouts",
                  "Publisher", "Network", "Meta"}))
    return std::unexpected(errors);
  (void)scalar(task["Name"], tp + ".Name");
  task_meta(task["Meta"], tp + ".Meta");

  // Inputs first: the modules may name their targets.
  std::vector<Source> sources = input_sources(task, tp);
  std::vector<std::pair<std::string, std::string>> env;
  engine(task, tp, sources, r, env);
  env_map(task["Env"], tp + ".Env", env);
  for (const auto& [k, v] : env) r.spec.env.push_back(k + "=" + v);
  for (const auto& s : sources) {
    if (s.claimed) continue;
    if (s.kind == Source::Kind::inline_data)
      r.inline_inputs.push_back({s.target, s.bytes, s.value});
    else
      r.spec.inputs.push_back({s.value, s.target, s.read_write});
  }
  r.spec.outputs = result_paths(task, tp);
  r.spec.default_output = false;  // a spec's ResultPaths are all its outputs
  resources(task, tp, r.spec);
  timeouts(task, tp, r.spec);
  publisher_and_network(task, tp);
  if (!errors.empty()) return std::unexpected(errors);
  r.warnings = std::move(warnings);
  return r;
}

// The job's own fields (Name, Labels, Meta, Constraints) and the checks of
// the ones shoal does not support. The fields of a job's state that
// describe prints (ID, State, Version, Revision, CreateTime, ModifyTime)
// are accepted and ignored: a spec submitted is a new job.
void Reader::job_fields(const YAML::Node& root, jobs::JobSpec& spec) {
  check_map(root, "",
            {"Name", "Type", "Count", "Labels", "Tasks", "Namespace", "Priority", "Constraints",
             "Meta", "ID", "State", "Version", "Revision", "CreateTime", "ModifyTime", kArrayKey});
  spec.name = scalar(root["Name"], "Name").value_or("");
  // Describe names a job without a name by its ID: the new job has none.
  if (!spec.name.empty() && spec.name == scalar(root["ID"], "ID").value_or("")) spec.name.clear();
  if (auto type = scalar(root["Type"], "Type"); type && lower(*type) != "batch")
    error("Type", "'" + *type + "' jobs are not supported by shoal (only batch)");
  if (auto count = number(root["Count"], "Count"); count && *count != 1)
    error("Count", "shoal runs each job once (Count 1)");
  if (auto ns = scalar(root["Namespace"], "Namespace"); ns && !ns->empty() && *ns != "default")
    error("Namespace", "'" + *ns + "': shoal has only the default namespace");
  if (auto prio = number(root["Priority"], "Priority"); prio && *prio != 0)
    error("Priority", "not supported by shoal (jobs run oldest first)");
  spec.constraints = constraints(root["Constraints"]);
  spec.meta = string_map(root["Meta"], "Meta");
  for (const auto& [key, value] : spec.meta)
    if (key.empty()) error("Meta", "a key is empty");
  spec.labels = string_map(root["Labels"], "Labels");
}

// shoal's job array (docs/jobs.md, "Arrays in a Bacalhau spec"): Indices
// (Slurm's syntax) or Items (local paths, relative to the spec's directory,
// or http(s) URLs), and ItemTarget.
std::optional<jobs::ArraySpec> Reader::array(const YAML::Node& n) {
  const std::string path = kArrayKey;
  if (!check_map(n, path, {"Indices", "Items", "ItemTarget"})) return std::nullopt;
  jobs::ArraySpec a;
  a.indices = scalar(n["Indices"], path + ".Indices").value_or("");
  a.item_target = scalar(n["ItemTarget"], path + ".ItemTarget").value_or("");
  if (const YAML::Node items = n["Items"]; present(items)) {
    if (!items.IsSequence()) error(path + ".Items", "expected a list of paths or URLs");
    for (size_t i = 0; items.IsSequence() && i < items.size(); ++i) {
      auto item = scalar(items[i], path + ".Items[" + std::to_string(i) + "]");
      if (item) a.items.push_back(is_url(*item) || item->empty() ? *item : absolute(*item));
    }
  }
  if (!a.item_target.empty())
    if (auto ok = normalize_guest_path(a.item_target); !ok) error(path + ".ItemTarget", ok.error());
  if (auto tasks = jobs::array_tasks(a); !tasks) error(path, tasks.error());
  return a;
}

// A mapping of key: value (Labels, Meta); a key without a value has "".
std::map<std::string, std::string> Reader::string_map(const YAML::Node& n,
                                                      const std::string& path) {
  std::map<std::string, std::string> out;
  if (!present(n)) return out;
  if (!n.IsMap()) {
    error(path, "expected a mapping of key: value");
    return out;
  }
  for (auto it = n.begin(); it != n.end(); ++it) {
    auto v = present(it->second) ? scalar(it->second, path + "." + it->first.Scalar())
                                 : std::optional<std::string>("");
    if (v) out[it->first.Scalar()] = *v;
  }
  return out;
}

std::vector<Source> Reader::input_sources(const YAML::Node& task, const std::string& tp) {
  std::vector<Source> sources;
  const YAML::Node ins = task["InputSources"];
  if (!present(ins)) return sources;
  if (!ins.IsSequence()) {
    error(tp + ".InputSources", "expected a list");
    return sources;
  }
  std::set<std::string> targets;
  for (size_t i = 0; i < ins.size(); ++i) {
    std::string p = tp + ".InputSources[" + std::to_string(i) + "]";
    auto s = input_source(ins[i], p);
    if (!s) continue;
    if (!targets.insert(s->target).second)
      error(p + ".Target", s->target + " is the target of another input");
    sources.push_back(std::move(*s));
  }
  return sources;
}

// Engine: {Type: wasm, Params: {EntryModule, Entrypoint, Parameters,
// EnvironmentVariables, ImportModules}}.
void Reader::engine(const YAML::Node& task, const std::string& tp, std::vector<Source>& sources,
                    RunRequest& r, std::vector<std::pair<std::string, std::string>>& env) {
  const std::string ep = tp + ".Engine";
  const YAML::Node engine = task["Engine"];
  if (!check_map(engine, ep, {"Type", "Params"})) {
    if (!present(engine)) error(ep, "required (Type: wasm, with Params)");
    return;
  }
  auto type = scalar(engine["Type"], ep + ".Type");
  if (!type)
    error(ep + ".Type", "required (wasm)");
  else if (lower(*type) != "wasm")
    error(ep + ".Type", "'" + *type + "' is not supported by shoal (only wasm)");
  // Another engine's Params mean nothing here: not worth a message each.
  if (!type || lower(*type) != "wasm") return;
  const std::string pp = ep + ".Params";
  const YAML::Node params = engine["Params"];
  if (!check_map(params, pp,
                 {"EntryModule", "Entrypoint", "EntryPoint", "Parameters", "EnvironmentVariables",
                  "ImportModules"})) {
    if (!present(params)) error(pp + ".EntryModule", "required");
    return;
  }
  if (!stored_module_.empty())
    stored_entry_module(params["EntryModule"], sources, r);
  else if (auto m = module(params["EntryModule"], pp + ".EntryModule", sources)) {
    r.module = *m;
    r.spec.module_name = !m->target.empty()                        ? m->target
                         : m->kind == ModuleRef::Kind::inline_data ? std::string("main.wasm")
                                                                   : m->source;
  }
  std::string entry = "_start";
  if (auto e = scalar(params["Entrypoint"], pp + ".Entrypoint")) entry = *e;
  if (auto e = scalar(params["EntryPoint"], pp + ".EntryPoint")) entry = *e;
  if (entry.empty()) error(pp + ".Entrypoint", "must not be empty");
  r.spec.entry_point = entry;
  r.spec.args = strings(params["Parameters"], pp + ".Parameters");
  env_map(params["EnvironmentVariables"], pp + ".EnvironmentVariables", env);
  import_modules(params["ImportModules"], pp + ".ImportModules", sources, r);
}

// The entry module of a spec that names it by its SHA-256 (Task Meta): the
// broker's stored module, whatever EntryModule says (kept for display; an
// InputSources entry at that target is the module's, not an input).
void Reader::stored_entry_module(const YAML::Node& n, std::vector<Source>& sources, RunRequest& r) {
  const std::string shown = present(n) && n.IsScalar() ? n.Scalar() : "";
  if (auto t = normalize_guest_path(shown); t && shown.starts_with("/"))
    for (auto& s : sources)
      if (s.target == *t) s.claimed = true;
  r.module.kind = ModuleRef::Kind::stored;
  r.module.source = stored_module_;
  r.spec.module_name = shown.empty() ? std::string("main.wasm") : shown;
}

void Reader::import_modules(const YAML::Node& imps, const std::string& path,
                            std::vector<Source>& sources, RunRequest& r) {
  if (!present(imps)) return;
  if (!imps.IsSequence()) {
    error(path, "expected a list");
    return;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < imps.size(); ++i) {
    std::string p = path + "[" + std::to_string(i) + "]";
    auto m = module(imps[i], p, sources);
    if (!m) continue;
    std::string name = import_module_name(m->target.empty() ? m->source : m->target);
    if (name.empty()) {
      error(p, "cannot tell the module's name (its file name without .wasm)");
      continue;
    }
    if (!names.insert(name).second) {
      error(p, "another import module is named '" + name + "'");
      continue;
    }
    r.imports.push_back({name, std::move(*m)});
  }
}

std::vector<jobs::OutputSpec> Reader::result_paths(const YAML::Node& task, const std::string& tp) {
  std::vector<jobs::OutputSpec> outputs;
  const YAML::Node rps = task["ResultPaths"];
  if (!present(rps)) return outputs;
  if (!rps.IsSequence()) {
    error(tp + ".ResultPaths", "expected a list");
    return outputs;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < rps.size(); ++i) {
    std::string p = tp + ".ResultPaths[" + std::to_string(i) + "]";
    if (!check_map(rps[i], p, {"Name", "Path"})) {
      if (!present(rps[i])) error(p, "expected {Name, Path}");
      continue;
    }
    auto name = scalar(rps[i]["Name"], p + ".Name");
    auto path = scalar(rps[i]["Path"], p + ".Path");
    if (!name || !path) {
      error(p, "needs a Name and a Path");
      continue;
    }
    auto out = result_path(*name, *path);
    if (!out) {
      error(p, out.error());
      continue;
    }
    if (!names.insert(out->name).second) {
      error(p + ".Name", "another result path is named '" + out->name + "'");
      continue;
    }
    outputs.push_back(*out);
  }
  return outputs;
}

void Reader::resources(const YAML::Node& task, const std::string& tp, jobs::JobSpec& spec) {
  const std::string rp = tp + ".Resources";
  if (!check_map(task["Resources"], rp, {"CPU", "Memory", "Disk", "GPU"})) return;
  const YAML::Node res = task["Resources"];
  std::string ignored;
  for (const char* what : {"CPU", "Disk", "GPU"}) {
    auto v = scalar(res[what], rp + "." + what);
    if (v && !v->empty() && *v != "0")
      ignored += (ignored.empty() ? "" : ", ") + as_written(rp + "." + what) + " " + *v;
  }
  if (!ignored.empty())
    warnings.push_back(prefix_ + ignored +
                       ": accepted, not enforced by shoal (only Memory is limited)");
  if (auto m = scalar(res["Memory"], rp + ".Memory"); m && !m->empty()) {
    auto bytes = units::parse_size(*m);
    if (!bytes)
      error(rp + ".Memory", bytes.error());
    else
      spec.memory_bytes = *bytes;
  }
}

void Reader::timeouts(const YAML::Node& task, const std::string& tp, jobs::JobSpec& spec) {
  const std::string to = tp + ".Timeouts";
  if (!check_map(task["Timeouts"], to, {"ExecutionTimeout", "TotalTimeout", "QueueTimeout"}))
    return;
  const YAML::Node t = task["Timeouts"];
  auto exec = number(t["ExecutionTimeout"], to + ".ExecutionTimeout");
  auto total = number(t["TotalTimeout"], to + ".TotalTimeout");
  auto queue = number(t["QueueTimeout"], to + ".QueueTimeout");
  if (exec && *exec < 0) error(to + ".ExecutionTimeout", "must not be negative");
  if (total && *total < 0) error(to + ".TotalTimeout", "must not be negative");
  if (queue && *queue != 0)
    error(to + ".QueueTimeout", "not supported by shoal (jobs wait in the queue until run)");
  // As Bacalhau's executor: the execution deadline, else the total one.
  std::string field = to + ".ExecutionTimeout";
  double timeout = 0;
  if (exec && *exec > 0) {
    timeout = *exec;
  } else if (total && *total > 0) {
    timeout = *total;
    field = to + ".TotalTimeout";
  }
  if (auto ms = jobs::timeout_ms_from_seconds(timeout, field); ms)
    spec.timeout_ms = *ms;
  else
    error(field, ms.error().substr(field.size() + 1));
}

// Publisher and Network: only what shoal does anyway (local, none).
void Reader::publisher_and_network(const YAML::Node& task, const std::string& tp) {
  const std::string pub = tp + ".Publisher";
  if (check_map(task["Publisher"], pub, {"Type", "Params"})) {
    auto type = scalar(task["Publisher"]["Type"], pub + ".Type");
    if (type && !type->empty() && lower(*type) != "local" && lower(*type) != "noop")
      error(pub + ".Type",
            "'" + *type + "' is not supported by shoal (results stay in shoal's store: local)");
    if (present(task["Publisher"]["Params"]) && task["Publisher"]["Params"].size() > 0)
      error(pub + ".Params", "not supported by shoal");
  }
  const std::string net = tp + ".Network";
  if (check_map(task["Network"], net, {"Type", "Domains"})) {
    auto type = scalar(task["Network"]["Type"], net + ".Type");
    if (type && !type->empty() && lower(*type) != "none" && lower(*type) != "default")
      error(net + ".Type", "'" + *type + "' is not supported by shoal (jobs have no network)");
    if (present(task["Network"]["Domains"]) && task["Network"]["Domains"].size() > 0)
      error(net + ".Domains", "not supported by shoal (jobs have no network)");
  }
}

// Strings a YAML reader would take for a number, a boolean or null are
// quoted, so that Bacalhau (Go) reads them back as strings.
void emit_string(YAML::Emitter& e, const std::string& s) {
  e << YAML::DoubleQuoted << s;
}

std::string memory_text(uint64_t bytes) {
  if (bytes && bytes % (1ull << 30) == 0) return std::to_string(bytes >> 30) + "Gb";
  if (bytes && bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + "Mb";
  if (bytes && bytes % (1ull << 10) == 0) return std::to_string(bytes >> 10) + "Kb";
  return std::to_string(bytes);
}

std::string module_file_name(const ModuleRef& m) {
  std::string s = m.source;
  if (m.kind == ModuleRef::Kind::url)
    if (auto q = s.find_first_of("?#"); q != std::string::npos) s.resize(q);
  std::string name = fs::path(s).filename().string();
  return name.empty() ? "main.wasm" : name;
}

// Bacalhau's name for a label selector operator (what Reader::constraints
// above reads back).
const char* bacalhau_operator(jobs::Requirement::Op op) {
  using Op = jobs::Requirement::Op;
  switch (op) {
    case Op::equals:
      return "=";
    case Op::not_equals:
      return "!=";
    case Op::in:
      return "in";
    case Op::not_in:
      return "notin";
    case Op::exists:
      return "exists";
    case Op::not_exists:
      return "!";
    case Op::greater:
      return "gt";
    case Op::less:
      return "lt";
  }
  return "exists";
}

}  // namespace

std::expected<RunRequest, std::vector<std::string>> read_bacalhau_spec(std::string_view text,
                                                                       std::string_view origin,
                                                                       const std::string& base_dir,
                                                                       const PathProbe& probe) {
  auto root = parse_text(text, origin);
  if (!root) return std::unexpected(std::vector<std::string>{root.error()});
  Reader reader(base_dir, probe);
  try {
    return reader.read(*root);
  } catch (const YAML::Exception& e) {
    // The walker checks each node before use; this is a backstop.
    return std::unexpected(std::vector<std::string>{std::string(origin) + ": " + e.what()});
  }
}

namespace {

// Writes one request as a Bacalhau spec (write_bacalhau_spec).
class SpecWriter {
 public:
  SpecWriter(const RunRequest& r, const FileReader& read_file) : r_(r), read_file_(read_file) {}

  std::expected<std::string, std::string> write() {
    auto entry = place(r_.module);
    if (!entry) return std::unexpected(entry.error());
    std::vector<std::string> import_targets;
    for (const auto& imp : r_.imports) {
      ModuleRef m = imp.module;
      // Keep the module's name: the file name of its target is the name.
      if (m.target.empty() && import_module_name(module_file_name(m)) != imp.name)
        m.target = "/app/" + imp.name + ".wasm";
      auto t = place(m);
      if (!t) return std::unexpected(t.error());
      import_targets.push_back(*t);
    }
    e_ << YAML::BeginMap;
    if (auto ok = job_fields(); !ok) return std::unexpected(ok.error());
    array();
    e_ << YAML::Key << "Tasks" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
    e_ << YAML::Key << "Name" << YAML::Value << "main";
    engine(*entry, import_targets);
    env();
    input_sources();
    result_paths();
    resources_and_timeouts();
    e_ << YAML::EndMap << YAML::EndSeq << YAML::EndMap;
    if (!e_.good()) return std::unexpected("cannot write the spec: " + e_.GetLastError());
    return std::string(e_.c_str()) + "\n";
  }

 private:
  // An input source that holds a module.
  struct ModuleSource {
    std::string target, type, value;
  };

  // The module's input source, at its target or at /app/FILE; the target.
  std::expected<std::string, std::string> place(const ModuleRef& m) {
    std::string target = m.target;
    if (target.empty()) {
      std::string name = module_file_name(m);
      target = "/app/" + name;
      for (int i = 2; used_.contains(target); ++i)
        target = "/app/" + std::to_string(i) + "/" + name;
    }
    used_.insert(target);
    ModuleSource src{target, "", ""};
    switch (m.kind) {
      case ModuleRef::Kind::url:
        src.type = "urlDownload";
        src.value = m.source;
        break;
      case ModuleRef::Kind::inline_data:
        src.type = "inline";
        src.value = m.source.empty() ? encode_data_url(m.bytes, "application/wasm") : m.source;
        break;
      case ModuleRef::Kind::local: {
        auto bytes = read_file_(m.source);
        if (!bytes) return std::unexpected("cannot read " + bytes.error());
        src.type = "inline";
        src.value = encode_data_url(*bytes, "application/wasm");
        break;
      }
      case ModuleRef::Kind::stored:
        return std::unexpected("the module is the one shoal's broker stores as SHA-256 " +
                               m.source +
                               "; a Bacalhau spec carries its bytes: give EntryModule as a "
                               "file or URL (and remove Tasks[0].Meta)");
    }
    module_sources_.push_back(src);
    return target;
  }

  // shoal's job array, under its extension key.
  void array() {
    if (!r_.array) return;
    const jobs::ArraySpec& a = *r_.array;
    e_ << YAML::Key << kArrayKey << YAML::Value << YAML::BeginMap;
    if (!a.indices.empty()) {
      e_ << YAML::Key << "Indices" << YAML::Value;
      emit_string(e_, a.indices);
    }
    if (!a.items.empty()) {
      e_ << YAML::Key << "Items" << YAML::Value << YAML::BeginSeq;
      for (const auto& item : a.items) emit_string(e_, item);
      e_ << YAML::EndSeq;
    }
    if (!a.item_target.empty()) e_ << YAML::Key << "ItemTarget" << YAML::Value << a.item_target;
    e_ << YAML::EndMap;
  }

  void string_map(const char* key, const std::map<std::string, std::string>& m) {
    if (m.empty()) return;
    e_ << YAML::Key << key << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : m) {
      e_ << YAML::Key << k << YAML::Value;
      emit_string(e_, v);
    }
    e_ << YAML::EndMap;
  }

  // Name, Type, Count, Labels, Meta, Constraints.
  std::expected<void, std::string> job_fields() {
    const jobs::JobSpec& s = r_.spec;
    if (!s.name.empty()) {
      e_ << YAML::Key << "Name" << YAML::Value;
      emit_string(e_, s.name);
    }
    e_ << YAML::Key << "Type" << YAML::Value << "batch";
    e_ << YAML::Key << "Count" << YAML::Value << 1;
    string_map("Labels", s.labels);
    string_map("Meta", s.meta);
    if (s.constraints.empty()) return {};
    auto selector = jobs::parse_selector(s.constraints);
    if (!selector) return std::unexpected("constraints: " + selector.error());
    e_ << YAML::Key << "Constraints" << YAML::Value << YAML::BeginSeq;
    for (const auto& req : *selector) {
      e_ << YAML::BeginMap << YAML::Key << "Key" << YAML::Value << req.key;
      e_ << YAML::Key << "Operator" << YAML::Value << YAML::DoubleQuoted
         << bacalhau_operator(req.op);
      if (!req.values.empty()) {
        e_ << YAML::Key << "Values" << YAML::Value << YAML::BeginSeq;
        for (const auto& v : req.values) emit_string(e_, v);
        e_ << YAML::EndSeq;
      }
      e_ << YAML::EndMap;
    }
    e_ << YAML::EndSeq;
    return {};
  }

  void engine(const std::string& entry, const std::vector<std::string>& import_targets) {
    e_ << YAML::Key << "Engine" << YAML::Value << YAML::BeginMap;
    e_ << YAML::Key << "Type" << YAML::Value << "wasm";
    e_ << YAML::Key << "Params" << YAML::Value << YAML::BeginMap;
    e_ << YAML::Key << "EntryModule" << YAML::Value << entry;
    e_ << YAML::Key << "Entrypoint" << YAML::Value << r_.spec.entry_point;
    e_ << YAML::Key << "Parameters" << YAML::Value << YAML::BeginSeq;
    for (const auto& a : r_.spec.args) emit_string(e_, a);
    e_ << YAML::EndSeq;
    if (!import_targets.empty()) {
      e_ << YAML::Key << "ImportModules" << YAML::Value << YAML::BeginSeq;
      for (const auto& t : import_targets) e_ << t;
      e_ << YAML::EndSeq;
    }
    e_ << YAML::EndMap << YAML::EndMap;
  }

  // KEY=VALUE entries as a mapping, a later key replacing an earlier one.
  void env() {
    if (r_.spec.env.empty()) return;
    std::vector<std::pair<std::string, std::string>> env;
    for (const auto& item : r_.spec.env) {
      auto eq = item.find('=');
      std::string k = item.substr(0, eq), v = eq == std::string::npos ? "" : item.substr(eq + 1);
      auto same = std::find_if(env.begin(), env.end(), [&](const auto& p) { return p.first == k; });
      if (same != env.end())
        same->second = v;
      else
        env.emplace_back(k, v);
    }
    e_ << YAML::Key << "Env" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : env) {
      e_ << YAML::Key << k << YAML::Value;
      emit_string(e_, v);
    }
    e_ << YAML::EndMap;
  }

  void source(const std::string& target, const std::string& type, const std::string& key,
              const std::string& value, bool read_write = false) {
    e_ << YAML::BeginMap << YAML::Key << "Target" << YAML::Value << target;
    e_ << YAML::Key << "Source" << YAML::Value << YAML::BeginMap;
    e_ << YAML::Key << "Type" << YAML::Value << type;
    e_ << YAML::Key << "Params" << YAML::Value << YAML::BeginMap;
    e_ << YAML::Key << key << YAML::Value << value;
    if (type == "local") e_ << YAML::Key << "ReadWrite" << YAML::Value << read_write;
    e_ << YAML::EndMap << YAML::EndMap << YAML::EndMap;
  }

  // The modules', then the inputs', then the inline inputs'.
  void input_sources() {
    e_ << YAML::Key << "InputSources" << YAML::Value << YAML::BeginSeq;
    for (const auto& m : module_sources_) source(m.target, m.type, "URL", m.value);
    for (const auto& in : r_.spec.inputs) {
      if (is_url(in.source))
        source(in.target, "urlDownload", "URL", in.source);
      else
        source(in.target, "local", "SourcePath", in.source, in.read_write);
    }
    for (const auto& in : r_.inline_inputs)
      source(in.target, "inline", "URL", in.url.empty() ? encode_data_url(in.bytes) : in.url);
    e_ << YAML::EndSeq;
  }

  // All the outputs a run gets, the default one included: read back, the
  // spec has the same mounts.
  void result_paths() {
    const auto outputs = jobs::effective_outputs(r_.spec);
    if (outputs.empty()) return;
    e_ << YAML::Key << "ResultPaths" << YAML::Value << YAML::BeginSeq;
    for (const auto& o : outputs)
      e_ << YAML::BeginMap << YAML::Key << "Name" << YAML::Value << o.name << YAML::Key << "Path"
         << YAML::Value << o.path << YAML::EndMap;
    e_ << YAML::EndSeq;
  }

  void resources_and_timeouts() {
    if (r_.spec.memory_bytes)
      e_ << YAML::Key << "Resources" << YAML::Value << YAML::BeginMap << YAML::Key << "Memory"
         << YAML::Value << memory_text(r_.spec.memory_bytes) << YAML::EndMap;
    if (const uint64_t ms = r_.spec.timeout_ms; ms > 0) {
      e_ << YAML::Key << "Timeouts" << YAML::Value << YAML::BeginMap << YAML::Key
         << "ExecutionTimeout" << YAML::Value;
      if (ms % 1000 == 0)
        e_ << ms / 1000;
      else
        e_ << static_cast<double>(ms) / 1000.0;
      e_ << YAML::EndMap;
    }
  }

  const RunRequest& r_;
  const FileReader& read_file_;
  YAML::Emitter e_;
  std::vector<ModuleSource> module_sources_;
  std::set<std::string> used_;
};

}  // namespace

std::expected<std::string, std::string> write_bacalhau_spec(const RunRequest& r,
                                                            const FileReader& read_file) {
  if (!r.stdin_file.empty())
    return std::unexpected(std::string("--stdin has no place in a Bacalhau job spec"));
  return SpecWriter(r, read_file).write();
}

}  // namespace shoal::bacalhau
