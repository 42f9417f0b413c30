#include "worker/remote_files.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace shoal::worker {
namespace {

namespace fs = std::filesystem;

bool valid_hash(const std::string& hash) {
  return hash.size() == 64 && std::all_of(hash.begin(), hash.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

std::expected<void, std::string> materialize(wire::Run& run, const std::string& exec_dir) {
  std::error_code ec;
  fs::remove_all(exec_dir, ec);
  fs::create_directories(fs::path(exec_dir) / "staging", ec);
  if (ec) return std::unexpected("cannot create " + exec_dir + ": " + ec.message());
  for (const auto& f : run.files) {
    if (!wire::safe_relative_path(f.path))
      return std::unexpected("the broker sent a file with an unsafe path: " + f.path);
    fs::path dest = fs::path(exec_dir) / f.path;
    fs::create_directories(f.directory ? dest : dest.parent_path(), ec);
    if (ec) return std::unexpected("cannot create " + dest.string() + ": " + ec.message());
    if (f.directory) continue;
    std::ofstream out(dest, std::ios::binary | std::ios::trunc);
    out.write(f.data.data(), static_cast<std::streamsize>(f.data.size()));
    out.close();
    if (!out) return std::unexpected("cannot write " + dest.string());
  }
  run.files.clear();  // the bytes are on disk now
  for (auto& m : run.mounts) {
    if (!wire::safe_relative_path(m.host))
      return std::unexpected("the broker sent a mount with an unsafe path: " + m.host);
    m.host = exec_dir + "/" + m.host;
  }
  if (!run.stdin_path.empty()) {
    if (!wire::safe_relative_path(run.stdin_path))
      return std::unexpected("the broker sent an unsafe stdin path: " + run.stdin_path);
    run.stdin_path = exec_dir + "/" + run.stdin_path;
  }
  run.scratch_dir = exec_dir + "/staging";
  return {};
}

std::vector<wire::FileEntry> collect_outputs(const std::string& exec_dir, uint64_t max_files,
                                             uint64_t max_bytes, std::string& message) {
  std::vector<wire::FileEntry> out;
  uint64_t bytes = 0, left_out = 0;
  fs::path root = fs::path(exec_dir) / "out";
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::none, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    auto st = it->symlink_status(ec);
    if (ec || !fs::is_regular_file(st)) continue;
    uint64_t size = fs::file_size(it->path(), ec);
    if (ec) continue;
    if ((max_files && out.size() + 1 > max_files) || (max_bytes && bytes + size > max_bytes)) {
      ++left_out;
      continue;
    }
    std::ifstream in(it->path(), std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bytes += data.size();
    out.push_back({fs::relative(it->path(), root, ec).string(), false, std::move(data)});
  }
  if (left_out) message = std::to_string(left_out) + " output files past the caps were not sent";
  return out;
}

std::optional<std::string> cached_module(const std::string& cache_dir, const std::string& hash) {
  if (cache_dir.empty() || !valid_hash(hash)) return std::nullopt;
  std::ifstream in(cache_dir + "/" + hash + ".wasm", std::ios::binary);
  if (!in) return std::nullopt;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void cache_module(const std::string& cache_dir, const std::string& hash, const std::string& bytes) {
  if (cache_dir.empty() || !valid_hash(hash)) return;
  std::error_code ec;
  fs::create_directories(cache_dir, ec);
  std::string final_path = cache_dir + "/" + hash + ".wasm";
  if (fs::exists(final_path, ec)) return;
  std::string tmp = final_path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      fs::remove(tmp, ec);
      return;
    }
  }
  fs::rename(tmp, final_path, ec);
}

}  // namespace shoal::worker
