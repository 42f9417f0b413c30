#include "cli/run_flags.h"

#include <cctype>
#include <filesystem>
#include <set>

#include "cli/input_spec.h"
#include "cli/job_view.h"
#include "protocol/constraints.h"
#include "protocol/job_json.h"
#include "protocol/units.h"

namespace shoal::cli {
namespace {

namespace fs = std::filesystem;

// Bacalhau's input forms, with local sources made absolute.
std::expected<jobs::InputSpec, std::string> input_spec(const std::string& value) {
  auto in = parse_input(value);
  if (!in) return std::unexpected(in.error());
  std::string source = in->source;
  if (in->kind == SourceKind::local) {
    std::error_code ec;
    source = fs::absolute(source, ec).lexically_normal().string();
    if (ec) return std::unexpected("--input " + value + ": " + ec.message());
  }
  return jobs::InputSpec{source, in->target};
}

// The mounts the flags ask for, named by their flags; a local input's kind
// is what the file system says.
std::vector<jobs::GuestMount> guest_mounts(const RunFlags& f, const jobs::JobSpec& spec) {
  using Kind = jobs::GuestMount::Kind;
  std::vector<jobs::GuestMount> out;
  bool has_default = false;
  for (size_t i = 0; i < spec.outputs.size(); ++i) {
    out.push_back({spec.outputs[i].path, Kind::directory, "--output " + f.outputs[i]});
    has_default |= spec.outputs[i].path == "/outputs";
  }
  if (!has_default) out.push_back({"/outputs", Kind::directory, "the default output /outputs"});
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    const auto& in = spec.inputs[i];
    std::error_code ec;
    const bool dir = !in.is_url() && fs::is_directory(in.source, ec);
    out.push_back({in.target, dir ? Kind::directory : Kind::file, "--input " + f.inputs[i]});
  }
  return out;
}

std::expected<uint64_t, std::string> limit_flag(const std::string& flag, const std::string& v) {
  if (v.empty()) return 0;
  auto n = units::parse_size(v);
  if (!n) return std::unexpected(flag + ": " + n.error());
  if (*n == 0)
    return std::unexpected(flag +
                           " 0: keep at least one byte (leave it out for the "
                           "broker's cap)");
  return *n;
}

// --memory: a size from one WebAssembly page to 4 GiB, the most a wasm32
// program's memory can hold; the error names the flag as typed and what to
// give instead.
std::expected<uint64_t, std::string> memory_flag(const std::string& v) {
  auto m = units::parse_size(v);
  if (!m) return std::unexpected("--memory: " + m.error());
  if (*m > jobs::kMaxMemoryBytes)
    return std::unexpected("--memory " + v +
                           ": over 4 GiB, the most a wasm32 program's memory can hold; give "
                           "--memory 4GiB or less (without --memory a job gets 1 GiB)");
  if (*m < jobs::kWasmPage)
    return std::unexpected("--memory " + v +
                           ": less than one WebAssembly page; give at least --memory 64KiB");
  return *m;
}

}  // namespace

std::expected<std::map<std::string, std::string>, std::string> pairs_from_flags(
    const std::string& flag, const std::vector<std::string>& values) {
  std::map<std::string, std::string> out;
  for (const auto& v : values) {
    auto eq = v.find('=');
    if (eq == std::string::npos || eq == 0)
      return std::unexpected(flag + " " + v + ": expected KEY=VALUE");
    out[v.substr(0, eq)] = v.substr(eq + 1);
  }
  return out;
}

std::expected<std::string, std::string> check_accepted_only(const AcceptedOnlyFlags& f) {
  auto lower = [](std::string v) {
    for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return v;
  };
  if (!f.publisher.empty() && lower(f.publisher) != "local")
    return std::unexpected("--publisher " + f.publisher +
                           ": shoal keeps every job's results itself (shoal job get ID), so "
                           "the only publisher it takes is local");
  static const std::set<std::string> networks = {"none",   "http", "host",
                                                 "bridge", "full", "default"};
  if (!f.network.empty() && !networks.contains(lower(f.network)))
    return std::unexpected("--network " + f.network +
                           ": expected None, HTTP, Host, Bridge or Default (Bacalhau's types)");
  std::string given;
  for (const auto& [flag, value] : {std::pair{"--cpu", f.cpu}, std::pair{"--disk", f.disk},
                                    std::pair{"--gpu", f.gpu}, std::pair{"--network", f.network}})
    if (!value.empty()) given += (given.empty() ? "" : ", ") + std::string(flag) + " " + value;
  if (given.empty()) return "";
  return "shoal: " + given +
         ": accepted but not enforced here (shoal limits a job's --memory and --timeout only)";
}

std::expected<jobs::JobSpec, std::string> build_spec(const RunFlags& f) {
  jobs::JobSpec spec;
  spec.name = f.name;
  spec.module_name = f.module;
  spec.entry_point = f.entry;
  spec.args = f.args;
  spec.labels = labels_from_flags(f.labels);
  for (const auto& e : f.env)
    if (e.find('=') == std::string::npos || e.front() == '=')
      return std::unexpected("-e " + e + ": expected KEY=VALUE");
  spec.env = f.env;
  auto meta = pairs_from_flags("--meta", f.meta);
  if (!meta) return std::unexpected(meta.error());
  spec.meta = std::move(*meta);
  auto timeout = jobs::timeout_ms_from_seconds(f.timeout_s, "--timeout");
  if (!timeout) return std::unexpected(timeout.error());
  spec.timeout_ms = *timeout;
  for (const auto& i : f.inputs) {
    auto in = input_spec(i);
    if (!in) return std::unexpected(in.error());
    spec.inputs.push_back(std::move(*in));
  }
  for (const auto& o : f.outputs) {
    auto out = parse_output(o);
    if (!out) return std::unexpected(out.error());
    spec.outputs.push_back({out->name, out->path});
  }
  if (!f.memory.empty()) {
    auto m = memory_flag(f.memory);
    if (!m) return std::unexpected(m.error());
    spec.memory_bytes = *m;
  }
  auto out_limit = limit_flag("--stdout-limit", f.stdout_limit);
  if (!out_limit) return std::unexpected(out_limit.error());
  auto err_limit = limit_flag("--stderr-limit", f.stderr_limit);
  if (!err_limit) return std::unexpected(err_limit.error());
  spec.stdout_limit = *out_limit;
  spec.stderr_limit = *err_limit;
  if (auto ok = jobs::check_guest_mounts(guest_mounts(f, spec)); !ok)
    return std::unexpected(ok.error());
  if (!f.constraints.empty()) {
    if (auto sel = jobs::parse_selector(f.constraints); !sel)
      return std::unexpected("--constraints: " + sel.error());
    spec.constraints = f.constraints;
  }
  return spec;
}

}  // namespace shoal::cli
