#include "client/run_flags.h"

#include <filesystem>

#include "broker/units.h"
#include "client/job_view.h"

namespace shoal::client {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool is_url(const std::string& s) {
  return s.starts_with("http://") || s.starts_with("https://");
}

// SRC[:DST] or src=SRC,dst=DST. The separator before DST is the first ":/"
// after a URL's host (so a port is not taken for one) or anywhere in a
// local path.
std::expected<json, std::string> parse_input(const std::string& value) {
  std::string src, dst;
  if (value.starts_with("src=")) {
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      std::string item =
          value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (item.starts_with("src="))
        src = item.substr(4);
      else if (item.starts_with("dst="))
        dst = item.substr(4);
      else if (!item.starts_with("opt=") && !item.empty())
        return std::unexpected("--input " + value + ": unknown part '" + item +
                               "' (use src=,dst=)");
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else {
    size_t search_from = 0;
    if (is_url(value)) {
      size_t host = value.find("://") + 3;
      search_from = value.find('/', host);
      if (search_from == std::string::npos) search_from = value.size();
    }
    size_t sep = value.find(":/", search_from);
    src = value.substr(0, sep);
    if (sep != std::string::npos) dst = value.substr(sep + 1);
  }
  if (src.empty()) return std::unexpected("--input " + value + ": no source");
  std::error_code ec;
  bool directory = false;
  if (!is_url(src)) {
    fs::path abs = fs::absolute(src, ec);
    if (ec || !fs::exists(abs, ec))
      return std::unexpected("--input " + value + ": " + src + ": no such file or directory");
    directory = fs::is_directory(abs, ec);
    src = abs.lexically_normal().string();
  }
  if (dst.empty()) {
    std::string base = fs::path(src).filename().string();
    if (is_url(src)) {
      std::string path = src.substr(src.find('/', src.find("://") + 3) == std::string::npos
                                        ? src.size()
                                        : src.find('/', src.find("://") + 3));
      base = fs::path(path.substr(0, path.find('?'))).filename().string();
      if (base.empty()) base = "input";
    }
    dst = directory ? "/inputs" : "/inputs/" + base;
  }
  if (dst.front() != '/')
    return std::unexpected("--input " + value + ": the target " + dst + " is not an absolute path");
  while (dst.size() > 1 && dst.back() == '/') dst.pop_back();
  return json{{"source", src}, {"target", dst}};
}

std::expected<json, std::string> parse_output(const std::string& value) {
  size_t colon = value.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= value.size())
    return std::unexpected("--output " + value +
                           ": expected NAME:PATH, e.g. results:/outputs/results");
  std::string name = value.substr(0, colon), path = value.substr(colon + 1);
  if (path.front() != '/')
    return std::unexpected("--output " + value + ": " + path + " is not an absolute path");
  if (name.find('/') != std::string::npos || name == "." || name == "..")
    return std::unexpected("--output " + value + ": the name " + name + " may not contain '/'");
  return json{{"name", name}, {"path", path}};
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
    auto p = parse_input(i);
    if (!p) return std::unexpected(p.error());
    in.push_back(*p);
  }
  for (const auto& o : outputs) {
    auto p = parse_output(o);
    if (!p) return std::unexpected(p.error());
    out.push_back(*p);
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
