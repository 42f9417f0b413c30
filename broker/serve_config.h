// The serve configuration kept in the state directory (serve.json): the
// settings of the last `shoal serve` that was given any of them, so that a
// broker started later without them (the client's auto-start, a plain
// `shoal serve`) runs the same way, its TCP listeners included
// (docs/remote.md, "A restarted broker").
//
// Stored: listen, listen_workers, labels, data_roots, workers,
// max_attempts, module_memory, tcp_connections. Not stored: what belongs
// to one run (--idle-exit, --quiet, --log-level, --state-dir).
#pragma once

#include <expected>
#include <string>

#include "broker/broker.h"

namespace shoal::broker {

std::string serve_config_path(const host::StateDir& dir);

// The stored settings of `options` (as `shoal serve` parsed them, before
// the broker resolves defaults), as the text of serve.json: one line of JSON.
std::string serve_config_text(const BrokerOptions& options);

// Writes `text` to the serve.json of `dir` (mode 0600, through a temporary
// file renamed over it). Fails naming the file and the cause.
std::expected<void, std::string> store_serve_config(const host::StateDir& dir, const std::string& text);

// Sets the stored settings of `options` from options.dir's serve.json;
// false when there is none. Fails naming the file and the field when it
// cannot be read or a value is malformed (options is then unchanged).
std::expected<bool, std::string> load_serve_config(BrokerOptions& options);

// Removes serve.json (nothing when there is none).
std::expected<void, std::string> forget_serve_config(const host::StateDir& dir);

// The stored settings of `options` as `shoal serve` flags, for messages:
// "--listen tcp://0.0.0.0:7700 --workers 0"; "(none)" when all are defaults.
std::string describe_serve_config(const BrokerOptions& options);

}  // namespace shoal::broker
