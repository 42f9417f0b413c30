#include "wasi/mount_plan.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <map>

namespace shoal::wasi {
namespace {

std::vector<std::string> components(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string c = path.substr(i, j - i);
    if (!c.empty() && c != ".") out.push_back(std::move(c));
    i = j + 1;
  }
  return out;
}

std::string join(bool absolute, const std::vector<std::string>& parts, size_t count) {
  std::string out = absolute ? "/" : "";
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out.empty() ? "." : out;
}

std::string describe(const Mount& m, bool guest_terms_only) {
  return guest_terms_only ? "the mount at " + m.guest_path
                          : "mount " + m.host_path + " at " + m.guest_path;
}

}  // namespace

std::string normalize_guest_path(const std::string& path) {
  auto parts = components(path);
  return join(!path.empty() && path.front() == '/', parts, parts.size());
}

std::expected<std::vector<PlannedPreopen>, std::string> plan_mounts(
    const std::vector<Mount>& mounts, bool guest_terms_only) {
  std::vector<PlannedPreopen> plan;
  // Normalised guest directory -> (index in plan, is it a directory mount).
  std::map<std::string, std::pair<size_t, bool>> claimed;
  // Normalised guest file path -> the mount that placed it.
  std::map<std::string, std::string> files;

  for (const Mount& m : mounts) {
    auto fail = [&](const std::string& what) {
      return std::unexpected(describe(m, guest_terms_only) + ": " + what);
    };
    if (m.guest_path.empty()) return fail("the guest path is empty");
    struct stat st;
    if (::stat(m.host_path.c_str(), &st) != 0) return fail(std::strerror(errno));

    if (S_ISDIR(st.st_mode)) {
      std::string dir = normalize_guest_path(m.guest_path);
      if (auto it = claimed.find(dir); it != claimed.end())
        return std::unexpected(plan[it->second.first].origin + " and " +
                               describe(m, guest_terms_only) + " both claim the guest directory " +
                               dir);
      claimed[dir] = {plan.size(), true};
      plan.push_back({m.guest_path, m.host_path, {}, m.read_only, describe(m, guest_terms_only)});
      continue;
    }
    if (!S_ISREG(st.st_mode)) return fail("not a directory or a regular file");

    auto parts = components(m.guest_path);
    if (m.guest_path.back() == '/' || parts.empty() || parts.back() == "..")
      return fail("a file's guest path must end in a file name");
    const bool absolute = m.guest_path.front() == '/';
    std::string dir = join(absolute, parts, parts.size() - 1);
    std::string file = join(absolute, parts, parts.size());
    if (auto it = files.find(file); it != files.end())
      return std::unexpected(it->second + " and " + describe(m, guest_terms_only) +
                             " both claim the guest file " + file);
    files[file] = describe(m, guest_terms_only);
    auto it = claimed.find(dir);
    if (it != claimed.end() && it->second.second)
      return std::unexpected(plan[it->second.first].origin + " and " +
                             describe(m, guest_terms_only) + " both claim the guest directory " +
                             dir);
    if (it == claimed.end()) {
      it = claimed.emplace(dir, std::pair{plan.size(), false}).first;
      plan.push_back({dir, "", {}, true, describe(m, guest_terms_only)});
    }
    plan[it->second.first].files.push_back(
        {m.host_path, parts.back(), describe(m, guest_terms_only)});
  }
  return plan;
}

}  // namespace shoal::wasi
