#include "cli/module_hash_cache.h"

#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>

namespace shoal::cli {
namespace {

constexpr char kFormat[] = "shoal-module-hash 1";

}  // namespace

std::string ModuleHashCache::entry_path(const FileIdentity& f) const {
  char name[64];
  std::snprintf(name, sizeof name, "/%" PRIx64 "-%" PRIx64, f.device, f.inode);
  return dir_ + name;
}

std::optional<std::string> ModuleHashCache::lookup(const FileIdentity& file) const {
  FILE* in = std::fopen(entry_path(file).c_str(), "re");
  if (!in) return std::nullopt;
  char format[32] = {}, hash[65] = {};
  FileIdentity recorded;
  uint64_t size = 0;
  long long mtime = 0, ctime = 0;
  int n =
      std::fscanf(in, "%31[^\n]\n%" SCNu64 " %lld %lld %64s", format, &size, &mtime, &ctime, hash);
  std::fclose(in);
  if (n != 5 || std::string_view(format) != kFormat) return std::nullopt;
  recorded = {file.device, file.inode, size, mtime, ctime};
  if (!(recorded == file)) return std::nullopt;
  std::string sha(hash);
  if (sha.size() != 64 || sha.find_first_not_of("0123456789abcdef") != std::string::npos)
    return std::nullopt;
  return sha;
}

void ModuleHashCache::remember(const FileIdentity& file, const std::string& sha256) const {
  // File times are CLOCK_REALTIME, the system clock.
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  if (now - std::max(file.mtime_ns, file.ctime_ns) < std::chrono::nanoseconds(kSettle).count())
    return;
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  const std::string path = entry_path(file);
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  FILE* out = std::fopen(tmp.c_str(), "we");
  if (!out) return;
  std::fprintf(out, "%s\n%" PRIu64 " %lld %lld %s\n", kFormat, file.size,
               static_cast<long long>(file.mtime_ns), static_cast<long long>(file.ctime_ns),
               sha256.c_str());
  if (std::fclose(out) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0)
    std::filesystem::remove(tmp, ec);
}

}  // namespace shoal::cli
