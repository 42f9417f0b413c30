#include "broker/job_blobs.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace shoal::broker {

namespace {

// Writes the blob `hash` to `path`; the errors name `what` (e.g. "stdin").
std::expected<void, std::string> place_blob(const BlobReader& blob, const std::string& hash,
                                            const std::string& what, const std::string& path) {
  auto bytes = blob(hash);
  if (!bytes || !*bytes)
    return std::unexpected("the bytes of " + what + " are missing from the store" +
                           (bytes ? std::string() : ": " + bytes.error()));
  FILE* f = std::fopen(path.c_str(), "wb");
  bool ok = f && std::fwrite((*bytes)->data(), 1, (*bytes)->size(), f) == (*bytes)->size();
  int err = errno;
  if (f && std::fclose(f) != 0) ok = false, err = errno;
  if (!ok)
    return std::unexpected("cannot write " + what +
                           " to the scratch directory: " + std::strerror(err));
  return {};
}

}  // namespace

std::expected<void, std::string> attach_job_blobs(const jobs::JobSpec& spec, const BlobReader& blob,
                                                  const std::string& dir, wire::Run& run) {
  if (!spec.stdin_hash.empty()) {
    run.stdin_path = dir + "/stdin";
    if (auto r = place_blob(blob, spec.stdin_hash, "stdin", run.stdin_path); !r) return r;
  }
  for (const auto& m : spec.import_modules) {
    auto bytes = blob(m.hash);
    if (!bytes || !*bytes)
      return std::unexpected("the bytes of import module " + m.name +
                             " are missing from the store" +
                             (bytes ? std::string() : ": " + bytes.error()));
    run.import_modules.push_back({m.name, m.hash, std::move(**bytes)});
  }
  for (size_t i = 0; i < spec.inline_inputs.size(); ++i) {
    const auto& in = spec.inline_inputs[i];
    std::string path = dir + "/inline-" + std::to_string(i);
    if (auto r = place_blob(blob, in.hash, "inline input " + in.target, path); !r) return r;
    run.mounts.push_back({path, in.target, true});
  }
  return {};
}

}  // namespace shoal::broker
