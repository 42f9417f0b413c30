// The serve configuration kept in the state directory (serve.json): the
// settings of the last `shoal serve` that was given any of them, so that a
// broker started later without them (the client's auto-start, a plain
// `shoal serve`) runs the same way, its TCP listeners included
// (docs/remote.md, "A restarted broker").
//
// Stored: listen, listen_workers, labels, data_roots, workers,
// max_attempts, module_memory, max_module_bytes, tcp_connections, and the
// REST API's host, port and token file (an "api" object; the API is on when
// it holds a host or a port), and the pilots' provider and its settings (a
// "pilots" object, docs/slurm.md). Not stored: what belongs
// to one run (--idle-exit, --quiet, --log-level, --state-dir).
#pragma once

#include <expected>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.h"

namespace shoal::broker {

std::string serve_config_path(const host::StateDir& dir);

// The stored settings of `options` (as `shoal serve` parsed them, before
// the broker resolves defaults), as the text of serve.json: one line of JSON.
std::string serve_config_text(const BrokerOptions& options);

// Writes `text` to the serve.json of `dir` (mode 0600, through a temporary
// file renamed over it). Fails naming the file and the cause.
std::expected<void, std::string> store_serve_config(const host::StateDir& dir,
                                                    const std::string& text);

// Sets the stored settings of `options` from options.dir's serve.json;
// false when there is none. Fails naming the file and the field when it
// cannot be read or a value is malformed (options is then unchanged).
std::expected<bool, std::string> load_serve_config(BrokerOptions& options);

// The stored configuration as serve.json holds it, checked as a broker
// loading it checks it; null when none is stored.
std::expected<nlohmann::json, std::string> read_serve_config(const host::StateDir& dir);

// Removes serve.json (nothing when there is none).
std::expected<void, std::string> forget_serve_config(const host::StateDir& dir);

// The stored settings of `options` as `shoal serve` flags, for messages:
// "--listen tcp://0.0.0.0:7700 --workers 0"; "(none)" when all are defaults.
std::string describe_serve_config(const BrokerOptions& options);

// `shoal config`: the configuration's keys one at a time. A key is
// serve.json's name for it (workers, labels, ...), the API's under "api."
// as Bacalhau names its own (api.host, api.port, api.token_file); any
// case (API.Port is api.port).
struct ConfigKey {
  std::string key;   // "api.port"
  std::string flag;  // the `shoal serve` flag that sets it: "--api-port"
  std::string about;
};
std::vector<ConfigKey> serve_config_keys();  // sorted by key

// The key as listed by serve_config_keys, or a message naming the keys.
std::expected<std::string, std::string> config_key(std::string_view key);

// The stored value of `key` (a listed key) in `config` as text (labels
// "k=v,k2=v2", data roots comma-separated); nullopt when not stored.
std::optional<std::string> serve_config_value(const nlohmann::json& config, const std::string& key);

// `config` with `key` set from `values` as typed (labels k=v, one per value
// or comma-separated; data roots likewise, made absolute; sizes as 256MiB;
// workers 0 for none, as --workers 0), checked as a broker loading it
// would. Fails naming the key and what is wrong.
std::expected<nlohmann::json, std::string> set_serve_config_value(
    nlohmann::json config, std::string_view key, const std::vector<std::string>& values);

// `config` without `key` (its default applies again).
std::expected<nlohmann::json, std::string> unset_serve_config_value(nlohmann::json config,
                                                                    std::string_view key);

}  // namespace shoal::broker
