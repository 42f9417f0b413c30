#include "bacalhau/request.h"

#include <sys/stat.h>

#include <filesystem>

namespace shoal::bacalhau {

PathKind probe_local_path(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return PathKind::missing;
  return S_ISDIR(st.st_mode) ? PathKind::directory : PathKind::file;
}

std::expected<std::string, std::string> normalize_guest_path(std::string_view path) {
  std::string shown = "\"" + std::string(path) + "\"";
  if (path.empty() || path[0] != '/')
    return std::unexpected("the guest path " + shown + " must be absolute");
  if (path.find('\0') != std::string_view::npos)
    return std::unexpected("the guest path " + shown + " contains a NUL byte");
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view part = path.substr(i, j - i);
    if (part == "..")
      return std::unexpected("the guest path " + shown + " must not contain \"..\"");
    if (!part.empty() && part != ".") {
      out += '/';
      out += part;
    }
    i = j + 1;
  }
  return out.empty() ? std::string("/") : out;
}

std::string import_module_name(const std::string& path_or_url) {
  std::string s = path_or_url;
  if (auto q = s.find_first_of("?#"); q != std::string::npos && s.find("://") != std::string::npos)
    s.resize(q);
  std::string name = std::filesystem::path(s).filename().string();
  if (name.size() > 5 && name.ends_with(".wasm")) name.resize(name.size() - 5);
  return name;
}

}  // namespace shoal::bacalhau
