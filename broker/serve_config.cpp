#include "broker/serve_config.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace shoal::broker {
namespace {

using nlohmann::json;

json to_json(const BrokerOptions& o) {
  return {{"listen", o.listen},
          {"listen_workers", o.listen_workers},
          {"labels", o.labels},
          {"data_roots", o.data_roots},
          {"workers", o.workers},
          {"max_attempts", o.max_attempts},
          {"module_memory", o.module_memory},
          {"max_module_bytes", o.max_module_bytes},
          {"tcp_connections", o.tcp_connections}};
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

std::expected<void, std::string> store_serve_config(const host::StateDir& dir, const std::string& text) {
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

std::expected<bool, std::string> load_serve_config(BrokerOptions& options) {
  const std::string path = serve_config_path(options.dir);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    // None stored; or a state directory this user cannot enter, which the
    // broker reports itself when it prepares it.
    if (errno == ENOENT || (errno == EACCES && ::access(options.dir.root.c_str(), X_OK) != 0))
      return false;
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
  auto stored = from_json(j);
  if (!stored)
    return std::unexpected(path + ": " + stored.error() +
                           " (remove it, or run shoal serve with the flags)");
  options.listen = stored->listen;
  options.listen_workers = stored->listen_workers;
  options.labels = stored->labels;
  options.data_roots = stored->data_roots;
  options.workers = stored->workers;
  options.max_attempts = stored->max_attempts;
  options.module_memory = stored->module_memory;
  options.max_module_bytes = stored->max_module_bytes;
  options.tcp_connections = stored->tcp_connections;
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
  return out.empty() ? "(none)" : out;
}

}  // namespace shoal::broker
