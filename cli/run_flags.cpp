#include "cli/run_flags.h"

#include <filesystem>

#include "cli/input_spec.h"
#include "cli/job_view.h"
#include "protocol/units.h"

namespace shoal::client {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Bacalhau's input forms, with local sources made absolute.
std::expected<json, std::string> input_json(const std::string& value) {
  auto in = parse_input(value);
  if (!in) return std::unexpected(in.error());
  std::string source = in->source;
  if (in->kind == SourceKind::local) {
    std::error_code ec;
    source = fs::absolute(source, ec).lexically_normal().string();
    if (ec) return std::unexpected("--input " + value + ": " + ec.message());
  }
  return json{{"source", source}, {"target", in->target}};
}

}  // namespace

std::expected<json, std::string> build_spec(const std::string& module,
                                            const std::vector<std::string>& args,
                                            const std::vector<std::string>& env,
                                            const std::vector<std::string>& inputs,
                                            const std::vector<std::string>& outputs,
                                            const std::vector<std::string>& labels,
                                            const std::string& entry_point, const std::string& name,
                                            double timeout_s, const std::string& memory) {
  json spec = {{"name", name},          {"module", module}, {"entry_point", entry_point},
               {"args", args},          {"env", env},       {"labels", labels_from_flags(labels)},
               {"timeout_s", timeout_s}};
  for (const auto& e : env)
    if (e.find('=') == std::string::npos || e.front() == '=')
      return std::unexpected("-e " + e + ": expected KEY=VALUE");
  json in = json::array(), out = json::array();
  for (const auto& i : inputs) {
    auto p = input_json(i);
    if (!p) return std::unexpected(p.error());
    in.push_back(*p);
  }
  for (const auto& o : outputs) {
    auto p = parse_output(o);
    if (!p) return std::unexpected(p.error());
    out.push_back({{"name", p->name}, {"path", p->path}});
  }
  spec["inputs"] = in;
  spec["outputs"] = out;
  if (!memory.empty()) {
    auto m = units::parse_size(memory);
    if (!m) return std::unexpected("--memory: " + m.error());
    spec["memory"] = *m;
  }
  return spec;
}

}  // namespace shoal::client
