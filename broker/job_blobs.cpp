#include "broker/job_blobs.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace shoal::broker {

std::expected<void, std::string> attach_job_blobs(const jobs::JobSpec& spec, const BlobReader& blob,
                                                  const std::string& dir, wire::Run& run) {
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
    auto bytes = blob(in.hash);
    if (!bytes || !*bytes)
      return std::unexpected("the bytes of inline input " + in.target +
                             " are missing from the store" +
                             (bytes ? std::string() : ": " + bytes.error()));
    std::string path = dir + "/inline-" + std::to_string(i);
    FILE* f = std::fopen(path.c_str(), "wb");
    bool ok = f && std::fwrite((*bytes)->data(), 1, (*bytes)->size(), f) == (*bytes)->size();
    int err = errno;
    if (f && std::fclose(f) != 0) ok = false, err = errno;
    if (!ok)
      return std::unexpected("cannot write inline input " + in.target + " to " + path + ": " +
                             std::strerror(err));
    run.mounts.push_back({path, in.target, true});
  }
  return {};
}

}  // namespace shoal::broker
