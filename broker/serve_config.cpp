#include "broker/serve_config.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "protocol/units.h"

namespace shoal::broker {
namespace {

using nlohmann::json;

json to_json(const BrokerOptions& o) {
  json j = {{"listen", o.listen},
            {"listen_workers", o.listen_workers},
            {"labels", o.labels},
            {"data_roots", o.data_roots},
            {"workers", o.workers},
            {"max_attempts", o.max_attempts},
            {"module_memory", o.module_memory},
            {"max_module_bytes", o.max_module_bytes},
            {"tcp_connections", o.tcp_connections}};
  if (o.api.enabled) j["api"] = {{"host", o.api.host}, {"port", o.api.port}};
  if (!o.api.token_file.empty()) j["api"]["token_file"] = o.api.token_file;
  if (!o.pilots.provider.empty()) {
    const auto& p = o.pilots;
    j["pilots"] = {{"provider", p.provider},
                   {"partition", p.partition},
                   {"max_workers", p.max_workers},
                   {"min_workers", p.min_workers},
                   {"slots", p.slots},
                   {"time_limit", p.time_limit_minutes},
                   {"idle_time", p.idle_seconds},
                   {"slurm_options", p.slurm_options}};
    if (!p.connect.empty()) j["pilots"]["connect"] = p.connect;
  }
  return j;
}

// The "pilots" object of serve.json into `p`, or the first malformed field.
std::expected<void, std::string> pilots_from_json(const json& j, BrokerOptions::Pilots& p) {
  if (!j.is_object()) return std::unexpected(std::string("pilots must be an object"));
  const std::map<std::string, std::pair<int*, int>> numbers = {
      {"max_workers", {&p.max_workers, 1}},
      {"min_workers", {&p.min_workers, 0}},
      {"slots", {&p.slots, 1}},
      {"time_limit", {&p.time_limit_minutes, 0}},
      {"idle_time", {&p.idle_seconds, 0}}};
  for (const auto& [key, v] : j.items()) {
    if (auto n = numbers.find(key); n != numbers.end()) {
      if (!v.is_number_integer() || v.get<int64_t>() < n->second.second ||
          v.get<int64_t>() > 1000000)
        return std::unexpected("pilots." + key + " must be a whole number from " +
                               std::to_string(n->second.second));
      *n->second.first = v.get<int>();
    } else if (key == "provider" || key == "partition" || key == "connect") {
      if (!v.is_string()) return std::unexpected("pilots." + key + " must be a string");
      (key == "provider" ? p.provider : key == "partition" ? p.partition : p.connect) = v;
    } else if (key == "slurm_options") {
      if (!v.is_array()) return std::unexpected(std::string("pilots.slurm_options must be a list"));
      p.slurm_options.clear();
      for (const auto& o : v) {
        if (!o.is_string())
          return std::unexpected(std::string("pilots.slurm_options holds strings"));
        p.slurm_options.push_back(o);
      }
    } else {
      return std::unexpected("pilots." + key + " is not a key of the pilots' configuration");
    }
  }
  if (!p.provider.empty() && p.provider != "slurm")
    return std::unexpected("pilots.provider " + p.provider + ": unknown (the one there is: slurm)");
  return {};
}

// The "api" object of serve.json into `api` (enabled), or the first
// malformed field.
std::expected<void, std::string> api_from_json(const json& j, BrokerOptions::Api& api) {
  if (!j.is_object()) return std::unexpected(std::string("api must be an object"));
  api.enabled = j.contains("host") || j.contains("port");
  for (const auto& [key, v] : j.items()) {
    if (key == "host" || key == "token_file") {
      if (!v.is_string() || (key == "host" && v.get<std::string>().empty()))
        return std::unexpected("api." + key + " must be a non-empty string");
      (key == "host" ? api.host : api.token_file) = v.get<std::string>();
    } else if (key == "port") {
      if (!v.is_number_unsigned() || v.get<uint64_t>() > 65535)
        return std::unexpected(std::string("api.port must be a port number from 0 to 65535"));
      api.port = static_cast<uint16_t>(v.get<uint64_t>());
    } else {
      return std::unexpected("api." + key + " is not a key of the API's configuration");
    }
  }
  return {};
}

// The stored settings of `j` over defaults, or the first malformed field.
std::expected<BrokerOptions, std::string> from_json(const json& j) {
  if (!j.is_object()) return std::unexpected(std::string("not a JSON object"));
  BrokerOptions o;
  auto str = [&](const char* key, std::string& out) -> std::expected<void, std::string> {
    if (!j.contains(key)) return {};
    if (!j[key].is_string()) return std::unexpected(std::string(key) + " must be a string");
    out = j[key];
    return {};
  };
  auto num = [&](const char* key, auto& out, int64_t lo,
                 uint64_t hi) -> std::expected<void, std::string> {
    if (!j.contains(key)) return {};
    const json& v = j[key];
    bool ok = false;
    if (v.is_number_unsigned())
      ok = v.get<uint64_t>() <= hi && (lo <= 0 || v.get<uint64_t>() >= static_cast<uint64_t>(lo));
    else if (v.is_number_integer())
      ok = v.get<int64_t>() >= lo && v.get<int64_t>() < 0;  // a negative number: hi >= 0
    if (!ok)
      return std::unexpected(std::string(key) + " must be an integer from " + std::to_string(lo) +
                             " to " + std::to_string(hi));
    out = static_cast<std::remove_reference_t<decltype(out)>>(v.get<int64_t>());
    return {};
  };
  for (auto r : {str("listen", o.listen), str("listen_workers", o.listen_workers),
                 num("workers", o.workers, -1, 1024), num("max_attempts", o.max_attempts, 1, 100),
                 num("module_memory", o.module_memory, 0, INT64_MAX),
                 num("max_module_bytes", o.max_module_bytes, 1, INT64_MAX),
                 num("tcp_connections", o.tcp_connections, 0, 1u << 20)})
    if (!r) return std::unexpected(r.error());
  if (j.contains("labels")) {
    if (!j["labels"].is_object()) return std::unexpected(std::string("labels must be an object"));
    for (const auto& [k, v] : j["labels"].items()) {
      if (!v.is_string()) return std::unexpected("label " + k + " must be a string");
      o.labels[k] = v;
    }
  }
  if (j.contains("api"))
    if (auto r = api_from_json(j["api"], o.api); !r) return std::unexpected(r.error());
  if (j.contains("pilots"))
    if (auto r = pilots_from_json(j["pilots"], o.pilots); !r) return std::unexpected(r.error());
  if (j.contains("data_roots")) {
    if (!j["data_roots"].is_array())
      return std::unexpected(std::string("data_roots must be an array of paths"));
    for (const auto& v : j["data_roots"]) {
      if (!v.is_string()) return std::unexpected(std::string("data_roots must hold strings"));
      o.data_roots.push_back(v);
    }
  }
  return o;
}

}  // namespace

std::string serve_config_path(const host::StateDir& dir) {
  return dir.root + "/serve.json";
}

std::string serve_config_text(const BrokerOptions& options) {
  return to_json(options).dump() + "\n";
}

std::expected<void, std::string> store_serve_config(const host::StateDir& dir,
                                                    const std::string& text) {
  const std::string path = serve_config_path(dir);
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected("cannot write " + tmp + ": " + std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) err = errno;
    ::unlink(tmp.c_str());
    return std::unexpected("cannot write " + path + ": " + std::strerror(err));
  }
  return {};
}

std::expected<json, std::string> read_serve_config(const host::StateDir& dir) {
  const std::string path = serve_config_path(dir);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    // None stored; or a state directory this user cannot enter, which the
    // broker reports itself when it prepares it.
    if (errno == ENOENT || (errno == EACCES && ::access(dir.root.c_str(), X_OK) != 0))
      return json(nullptr);
    return std::unexpected("cannot read " + path + ": " + std::strerror(errno));
  }
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) text.append(buf, static_cast<size_t>(n));
  const int err = errno;
  ::close(fd);
  if (n < 0) return std::unexpected("cannot read " + path + ": " + std::strerror(err));
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded())
    return std::unexpected(path + ": not JSON (remove it, or run shoal serve with the flags)");
  if (auto stored = from_json(j); !stored)
    return std::unexpected(path + ": " + stored.error() +
                           " (remove it, or run shoal serve with the flags)");
  return j;
}

std::expected<bool, std::string> load_serve_config(BrokerOptions& options) {
  auto j = read_serve_config(options.dir);
  if (!j) return std::unexpected(j.error());
  if (j->is_null()) return false;
  auto stored = from_json(*j);
  options.listen = stored->listen;
  options.listen_workers = stored->listen_workers;
  options.labels = stored->labels;
  options.data_roots = stored->data_roots;
  options.workers = stored->workers;
  options.max_attempts = stored->max_attempts;
  options.module_memory = stored->module_memory;
  options.max_module_bytes = stored->max_module_bytes;
  options.tcp_connections = stored->tcp_connections;
  options.api = stored->api;
  options.pilots = stored->pilots;
  return true;
}

std::expected<void, std::string> forget_serve_config(const host::StateDir& dir) {
  const std::string path = serve_config_path(dir);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return std::unexpected("cannot remove " + path + ": " + std::strerror(errno));
  return {};
}

std::string describe_serve_config(const BrokerOptions& o) {
  const BrokerOptions defaults;
  std::string out;
  auto add = [&](const std::string& flag, const std::string& value) {
    out += (out.empty() ? "" : " ") + flag + " " + value;
  };
  if (!o.listen.empty()) add("--listen", o.listen);
  if (!o.listen_workers.empty()) add("--listen-workers", o.listen_workers);
  for (const auto& [k, v] : o.labels) add("--label", k + "=" + v);
  for (const auto& r : o.data_roots) add("--data-root", r);
  if (o.workers != 0) add("--workers", std::to_string(o.workers < 0 ? 0 : o.workers));
  if (o.max_attempts != defaults.max_attempts)
    add("--max-attempts", std::to_string(o.max_attempts));
  if (o.module_memory) add("--module-memory", std::to_string(o.module_memory));
  if (o.max_module_bytes != defaults.max_module_bytes)
    add("--max-module-size", std::to_string(o.max_module_bytes));
  if (o.tcp_connections) add("--tcp-connections", std::to_string(o.tcp_connections));
  if (o.api.enabled) {
    add("--api-host", o.api.host);
    add("--api-port", std::to_string(o.api.port));
    if (!o.api.token_file.empty()) add("--api-token-file", o.api.token_file);
  }
  if (const auto& p = o.pilots; !p.provider.empty()) {
    add("--provider", p.provider);
    add("--slurm-partition", p.partition);
    add("--max-workers", std::to_string(p.max_workers));
    if (p.min_workers) add("--min-workers", std::to_string(p.min_workers));
    if (p.slots != 1) add("--slots-per-worker", std::to_string(p.slots));
    if (p.time_limit_minutes)
      add("--worker-time-limit", std::to_string(p.time_limit_minutes) + "m");
    if (p.idle_seconds != 60) add("--worker-idle-time", std::to_string(p.idle_seconds) + "s");
    for (const auto& x : p.slurm_options) add("--slurm-option", "=" + x);
    if (!p.connect.empty()) add("--pilot-connect", p.connect);
  }
  return out.empty() ? "(none)" : out;
}

namespace {

enum class KeyType { text, count, size, port, labels, paths, list, minutes, seconds };

struct KeySpec {
  ConfigKey key;
  KeyType type;
};

const std::vector<KeySpec>& key_specs() {
  static const std::vector<KeySpec> specs = {
      {{"api.host", "--api-host",
        "The REST API's address (docs/http-api.md); api.host or api.port turns the API on"},
       KeyType::text},
      {{"api.port", "--api-port", "The REST API's port (1234 when only api.host is set)"},
       KeyType::port},
      {{"api.token_file", "--api-token-file", "The file holding the REST API's bearer token"},
       KeyType::text},
      {{"data_roots", "--data-root", "Directories whose files clients over TCP may name"},
       KeyType::paths},
      {{"labels", "--label", "Labels of the local workers, k=v[,k=v]"}, KeyType::labels},
      {{"listen", "--listen", "The TCP endpoint for clients on other hosts"}, KeyType::text},
      {{"listen_workers", "--listen-workers", "Where remote worker pools connect"}, KeyType::text},
      {{"max_attempts", "--max-attempts", "Executions per job before it fails"}, KeyType::count},
      {{"max_module_bytes", "--max-module-size", "The largest module a client may send"},
       KeyType::size},
      {{"module_memory", "--module-memory", "Memory each worker keeps modules in"}, KeyType::size},
      {{"tcp_connections", "--tcp-connections", "Connections each TCP endpoint keeps at most"},
       KeyType::count},
      {{"pilots.connect", "--pilot-connect", "Where pilots connect, tcp://HOST:PORT"},
       KeyType::text},
      {{"pilots.idle_time", "--worker-idle-time", "An idle pilot is cancelled after this (60s)"},
       KeyType::seconds},
      {{"pilots.max_workers", "--max-workers", "Pilots at most"}, KeyType::count},
      {{"pilots.min_workers", "--min-workers", "Pilots kept with nothing queued"}, KeyType::count},
      {{"pilots.partition", "--slurm-partition", "The Slurm partition of pilots"}, KeyType::text},
      {{"pilots.provider", "--provider", "The engine pilots run on: slurm (docs/slurm.md)"},
       KeyType::text},
      {{"pilots.slots", "--slots-per-worker", "Worker processes per pilot"}, KeyType::count},
      {{"pilots.slurm_options", "--slurm-option", "More sbatch options, comma-separated"},
       KeyType::list},
      {{"pilots.time_limit", "--worker-time-limit", "Each pilot's Slurm time limit, e.g. 2h"},
       KeyType::minutes},
      {{"workers", "--workers", "Local worker processes (0: none)"}, KeyType::count},
  };
  return specs;
}

// The spec of `key` (any case), or a message naming the keys there are.
std::expected<const KeySpec*, std::string> find_key(std::string_view key) {
  std::string lower(key);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string known;
  for (const auto& spec : key_specs()) {
    if (spec.key.key == lower) return &spec;
    known += (known.empty() ? "" : ", ") + spec.key.key;
  }
  return std::unexpected("unknown configuration key '" + std::string(key) + "' (keys: " + known +
                         ")");
}

// Where `key` lives in serve.json: the "api" object for api.*, else the top.
std::pair<std::string, std::string> json_place(const std::string& key) {
  if (key.starts_with("api.")) return {"api", key.substr(4)};
  if (key.starts_with("pilots.")) return {"pilots", key.substr(7)};
  return {"", key};
}

std::expected<json, std::string> parse_value(const KeySpec& spec,
                                             const std::vector<std::string>& values) {
  const std::string& key = spec.key.key;
  if (values.empty()) return std::unexpected(key + " needs a value");
  if (spec.type == KeyType::labels || spec.type == KeyType::paths || spec.type == KeyType::list) {
    json out = spec.type == KeyType::labels ? json::object() : json::array();
    for (const auto& v : values)
      for (size_t start = 0; start <= v.size();) {
        size_t comma = std::min(v.find(',', start), v.size());
        std::string item = v.substr(start, comma - start);
        start = comma + 1;
        if (item.empty()) continue;
        if (spec.type == KeyType::list) {
          out.push_back(item);
        } else if (spec.type == KeyType::paths) {
          std::error_code ec;
          auto abs = std::filesystem::absolute(item, ec);
          out.push_back(ec ? item : abs.lexically_normal().string());
        } else if (auto eq = item.find('='); eq == std::string::npos || eq == 0) {
          return std::unexpected(key + ": '" + item + "' is not key=value");
        } else {
          out[item.substr(0, eq)] = item.substr(eq + 1);
        }
      }
    return out;
  }
  if (values.size() != 1)
    return std::unexpected(key + " takes one value, not " + std::to_string(values.size()));
  const std::string& v = values[0];
  if (spec.type == KeyType::text) return json(v);
  if (spec.type == KeyType::minutes || spec.type == KeyType::seconds) {
    auto s = units::parse_duration(v, 366.0 * 86400);
    if (!s) return std::unexpected(key + ": " + s.error());
    return json(static_cast<int64_t>(std::ceil(*s / (spec.type == KeyType::minutes ? 60 : 1))));
  }
  if (spec.type == KeyType::size) {
    auto n = units::parse_size(v);
    if (!n) return std::unexpected(key + ": " + n.error());
    return json(*n);
  }
  uint64_t n = 0;
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
    return std::unexpected(key + ": '" + v + "' is not a whole number");
  n = std::stoull(v);
  if (key == "workers" && n == 0) return json(-1);  // as --workers 0: no local workers
  return json(n);
}

}  // namespace

std::vector<ConfigKey> serve_config_keys() {
  std::vector<ConfigKey> keys;
  for (const auto& spec : key_specs()) keys.push_back(spec.key);
  return keys;
}

std::expected<std::string, std::string> config_key(std::string_view key) {
  auto spec = find_key(key);
  if (!spec) return std::unexpected(spec.error());
  return (*spec)->key.key;
}

std::optional<std::string> serve_config_value(const json& config, const std::string& key) {
  auto [object, field] = json_place(key);
  const json* at = &config;
  if (!config.is_object()) return std::nullopt;
  if (!object.empty()) {
    if (!config.contains(object) || !config[object].is_object()) return std::nullopt;
    at = &config[object];
  }
  if (!at->contains(field)) return std::nullopt;
  const json& v = (*at)[field];
  if (v.is_string()) return v.get<std::string>();
  std::string text;
  if (v.is_object())
    for (const auto& [k, x] : v.items())
      text += (text.empty() ? "" : ",") + k + "=" + (x.is_string() ? x.get<std::string>() : "");
  else if (v.is_array())
    for (const auto& x : v)
      text += (text.empty() ? "" : ",") + (x.is_string() ? x.get<std::string>() : "");
  else if (key == "workers" && v.is_number_integer() && v.get<int64_t>() < 0)
    text = "0";
  else
    text = v.dump();
  return text;
}

std::expected<json, std::string> set_serve_config_value(json config, std::string_view key,
                                                        const std::vector<std::string>& values) {
  auto spec = find_key(key);
  if (!spec) return std::unexpected(spec.error());
  auto value = parse_value(**spec, values);
  if (!value) return std::unexpected(value.error());
  if (!config.is_object()) config = json::object();
  auto [object, field] = json_place((*spec)->key.key);
  if (object.empty())
    config[field] = *value;
  else
    config[object][field] = *value;
  if (auto checked = from_json(config); !checked) return std::unexpected(checked.error());
  return config;
}

std::expected<json, std::string> unset_serve_config_value(json config, std::string_view key) {
  auto spec = find_key(key);
  if (!spec) return std::unexpected(spec.error());
  if (!config.is_object()) return json::object();
  auto [object, field] = json_place((*spec)->key.key);
  if (object.empty()) {
    config.erase(field);
  } else if (config.contains(object) && config[object].is_object()) {
    config[object].erase(field);
    if (config[object].empty()) config.erase(object);
  }
  return config;
}

}  // namespace shoal::broker
