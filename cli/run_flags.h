// Turning `shoal wasm run`'s flags into a job spec (the JSON the broker's
// submit command takes; docs/protocol.md).
#pragma once

#include <expected>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace shoal::client {

// Validates every flag and names the first bad one. Local input paths
// become absolute and must exist.
std::expected<nlohmann::json, std::string> build_spec(
    const std::string& module, const std::vector<std::string>& args,
    const std::vector<std::string>& env, const std::vector<std::string>& inputs,
    const std::vector<std::string>& outputs, const std::vector<std::string>& labels,
    const std::string& entry_point, const std::string& name, double timeout_s,
    const std::string& memory);

}  // namespace shoal::client
