#include "cli/run_flags.h"

#include <glob.h>
#include <cctype>
#include <filesystem>
#include <set>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "bacalhau/request.h"
#include "cli/input_spec.h"
#include "cli/job_view.h"
#include "protocol/array.h"
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
  jobs::InputSpec spec{source, in->target};
  for (const auto& [key, v] : in->options) {
    // Bacalhau's one option of a local or URL source.
    if (key != "rw")
      return std::unexpected("--input " + value + ": the option '" + key +
                             "' is not known; the one option is opt=rw=true (the program may "
                             "change its copy of the input)");
    if (v != "true" && v != "false")
      return std::unexpected("--input " + value + ": opt=rw=" + v + " is neither true nor false");
    spec.read_write = v == "true";
  }
  if (spec.read_write && in->kind != SourceKind::local)
    return std::unexpected("--input " + value +
                           ": opt=rw=true is for a local file or directory; a URL input is "
                           "read-only (download it and give the file with opt=rw=true)");
  return spec;
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

// An --output. An array's may hold placeholders (protocol/array.h): it is
// checked as a task would have it, and kept as given, for each task's own.
std::expected<jobs::OutputSpec, std::string> output_flag(const RunFlags& f,
                                                         const std::string& value) {
  const bool array = !f.array.empty() || !f.each_input.empty();
  auto out = parse_output(array ? jobs::fill_placeholders(value, {1, "item"}) : value);
  if (!out) return std::unexpected(out.error());
  if (!array) return jobs::OutputSpec{out->name, out->path};
  const auto colon = value.find(':');
  return jobs::OutputSpec{value.substr(0, colon), value.substr(colon + 1)};
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
    auto out = output_flag(f, o);
    if (!out) return std::unexpected(out.error());
    spec.outputs.push_back(std::move(*out));
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

// Job arrays: --array and --each-input.
namespace {

// "SOURCE:/TARGET" split at the last ":/" (a URL's "://" is not one: its
// ':' is followed by two slashes and a host, never by the end of a path).
std::pair<std::string, std::string> split_item_target(const std::string& value) {
  for (size_t at = value.rfind(":/"); at != std::string::npos && at > 0;
       at = value.rfind(":/", at - 1)) {
    if (value.compare(at, 3, "://") == 0) continue;
    return {value.substr(0, at), value.substr(at + 1)};
  }
  return {value, ""};
}

std::expected<std::vector<std::string>, std::string> glob_items(const std::string& pattern) {
  glob_t g{};
  const int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
  std::vector<std::string> out;
  for (size_t i = 0; rc == 0 && i < g.gl_pathc; ++i) {
    std::error_code ec;
    out.push_back(fs::absolute(g.gl_pathv[i], ec).lexically_normal().string());
  }
  ::globfree(&g);
  if (rc == GLOB_NOMATCH || (rc == 0 && out.empty()))
    return std::unexpected("--each-input " + pattern + ": no file matches");
  if (rc != 0) return std::unexpected("--each-input " + pattern + ": cannot read the directories");
  return out;
}

std::expected<std::vector<std::string>, std::string> listed_items(const std::string& list) {
  std::ifstream file;
  if (list != "-") {
    file.open(list);
    if (!file) return std::unexpected("--each-input @" + list + ": " + std::strerror(errno));
  }
  std::istream& in = list == "-" ? std::cin : file;
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const bool url = line.starts_with("http://") || line.starts_with("https://");
    std::error_code ec;
    out.push_back(url ? line : fs::absolute(line, ec).lexically_normal().string());
  }
  if (out.empty()) return std::unexpected("--each-input @" + list + ": no items (one per line)");
  return out;
}

}  // namespace

std::expected<std::optional<jobs::ArraySpec>, std::string> array_from_flags(const RunFlags& f) {
  if (f.array.empty() && f.each_input.empty()) return std::nullopt;
  if (!f.array.empty() && !f.each_input.empty())
    return std::unexpected(std::string("--array and --each-input: give one of them"));
  jobs::ArraySpec a;
  if (!f.array.empty()) {
    if (auto indices = jobs::parse_array_indices(f.array); !indices)
      return std::unexpected(indices.error());
    a.indices = f.array;
    return a;
  }
  auto [source, target] = split_item_target(f.each_input);
  if (!target.empty()) {
    if (auto ok = bacalhau::normalize_guest_path(target); !ok)
      return std::unexpected("--each-input " + f.each_input + ": " + ok.error());
    a.item_target = target;
  }
  auto items = source.starts_with("@") ? listed_items(source.substr(1)) : glob_items(source);
  if (!items) return std::unexpected(items.error());
  a.items = std::move(*items);
  if (auto tasks = jobs::array_tasks(a); !tasks)
    return std::unexpected("--each-input " + f.each_input + ": " + tasks.error());
  return a;
}

}  // namespace shoal::cli
