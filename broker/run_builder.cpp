#include "broker/run_builder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "protocol/job_json.h"
#include "protocol/names.h"
#include "wasi/host_open.h"

namespace shoal::broker {
namespace {

namespace fs = std::filesystem;

// The bytes of a stream kept: the job's limit, at most the broker's cap
// (0 in either: no limit from it).
uint64_t stream_cap(uint64_t job_limit, uint64_t broker_cap) {
  if (job_limit == 0 || broker_cap == 0) return std::max(job_limit, broker_cap);
  return std::min(job_limit, broker_cap);
}

std::string too_much(uint64_t cap) {
  return "the inputs exceed " + std::to_string(cap) + " bytes, the most a remote worker is sent";
}

// The bytes of the regular file at `path`, at most `room` of them. The open
// never blocks (a FIFO put in an input directory would hold the broker's
// loop until someone wrote to it) and anything but a regular file is
// refused (wasi/host_open.h); `follow`: whether a final symlink is followed
// (a path the client named) or refused (an entry found in a directory, which
// may have been swapped for a symlink since it was listed).
std::expected<std::string, std::string> read_file(const fs::path& path, bool follow, uint64_t room,
                                                  uint64_t cap) {
  struct stat st;
  auto fd = wasi::open_host_file(AT_FDCWD, path.c_str(),
                                 O_RDONLY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW), 0, &st);
  if (!fd) {
    if (fd.error() == ENXIO || fd.error() == ELOOP)
      return std::unexpected(
          path.string() + ": not a regular file (" +
          (fd.error() == ENXIO ? "a FIFO, socket or device" : "a symbolic link") +
          "), which an input sent to a remote worker must be");
    return std::unexpected(path.string() + ": " + std::strerror(fd.error()));
  }
  if (S_ISDIR(st.st_mode)) return std::unexpected(path.string() + ": is a directory");
  if (static_cast<uint64_t>(st.st_size) > room) return std::unexpected(too_much(cap));
  std::string data;
  data.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd->get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected(path.string() + ": " + std::strerror(errno));
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > room) return std::unexpected(too_much(cap));  // it grew while it was read
  }
  return data;
}

// Adds `source` (a file or a directory tree) under `dest` to `files`.
// Symbolic links inside a directory are left out: their targets may lie
// anywhere on the broker's host. So are FIFOs, sockets and devices: they
// have no bytes to send.
std::expected<void, std::string> bundle(const fs::path& source, const std::string& dest,
                                        std::vector<wire::FileEntry>& files, uint64_t& bytes,
                                        uint64_t cap) {
  std::error_code ec;
  auto add_file = [&](const fs::path& p, const std::string& rel,
                      bool follow) -> std::expected<void, std::string> {
    auto data = read_file(p, follow, cap - std::min(bytes, cap), cap);
    if (!data) return std::unexpected(data.error());
    bytes += data->size();
    files.push_back({rel, false, std::move(*data)});
    return {};
  };
  auto status = fs::status(source, ec);
  if (ec) return std::unexpected(source.string() + ": " + ec.message());
  if (fs::is_regular_file(status))
    return add_file(source, dest + "/" + source.filename().string(), true);
  if (!fs::is_directory(status))
    return std::unexpected(source.string() + ": neither a file nor a directory");
  files.push_back({dest, true, ""});
  for (auto it = fs::recursive_directory_iterator(source, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    auto st = it->symlink_status(ec);
    if (ec) break;
    std::string rel = dest + "/" + fs::relative(it->path(), source, ec).string();
    if (fs::is_directory(st))
      files.push_back({rel, true, ""});
    else if (fs::is_regular_file(st))
      if (auto r = add_file(it->path(), rel, false); !r) return r;
  }
  if (ec) return std::unexpected(source.string() + ": " + ec.message());
  return {};
}

// The run's parts in order, each returning the error that fails the job.
class Builder {
 public:
  Builder(const RunRequest& request, const BlobReader& blob, const RunLimits& limits)
      : req_(request), job_(*request.job), blob_(blob), limits_(limits) {}

  std::expected<wire::Run, std::string> build() {
    if (auto r = basics(); !r) return std::unexpected(r.error());
    if (auto r = inputs(); !r) return std::unexpected(r.error());
    if (auto r = outputs(); !r) return std::unexpected(r.error());
    if (auto r = job_blobs(); !r) return std::unexpected(r.error());
    return std::move(run_);
  }

 private:
  std::expected<void, std::string> basics() {
    run_.exec_id = req_.exec_id;
    run_.job_id = job_.id;
    run_.module_hash = job_.spec.module_hash;
    if (req_.send_module) {
      auto module = blob_(run_.module_hash);
      if (!module || !*module)
        return std::unexpected(module ? "the module's bytes are missing from the store"
                                      : module.error());
      run_.module = std::move(**module);
    }
    run_.entry_point = job_.spec.entry_point;
    run_.args.push_back(job_.spec.module_name.empty()
                            ? "main.wasm"
                            : fs::path(job_.spec.module_name).filename().string());
    run_.args.insert(run_.args.end(), job_.spec.args.begin(), job_.spec.args.end());
    run_.env = job_.spec.env;
    run_.scratch_dir = req_.remote ? "" : req_.scratch;
    run_.timeout_ms = job_.spec.timeout_ms;
    run_.memory_bytes = job_.spec.memory_bytes ? job_.spec.memory_bytes : limits_.default_memory;
    run_.stdout_cap = stream_cap(job_.spec.stdout_limit, limits_.stdout_cap);
    run_.stderr_cap = stream_cap(job_.spec.stderr_limit, limits_.stderr_cap);
    run_.remote = req_.remote;
    if (req_.remote) {
      run_.output_bytes_cap = limits_.output_bytes_cap;
      run_.output_files_cap = limits_.output_files_cap;
    }
    return {};
  }

  // Read-only, in place; a remote run carries each as in/K. A read-write
  // input is a private copy: the bundle of a remote run is one already; a
  // local run's worker copies it into the run's scratch directory.
  std::expected<void, std::string> inputs() {
    for (const auto& in : job_.spec.inputs) {
      std::string host = req_.input_path(in);
      if (req_.remote) {
        if (host.empty()) return std::unexpected("input " + in.target + " was not staged");
        const std::string dest = "in/" + std::to_string(inputs_++);
        std::error_code ec;
        const bool single = fs::is_regular_file(host, ec);
        if (auto r = bundle(host, dest, run_.files, input_bytes_, limits_.input_bytes_cap); !r)
          return std::unexpected("input " + r.error());
        // A single file is mounted as itself, as it is locally.
        host = single ? run_.files.back().path : dest;
      }
      run_.mounts.push_back(
          {std::move(host), in.target, !in.read_write, in.read_write && !req_.remote});
    }
    return {};
  }

  // jobs::effective_outputs: /outputs unless an output claims it or the
  // spec has no default output; each output is its own
  // directory, scratch/out/NAME (out/NAME on a remote worker).
  std::expected<void, std::string> outputs() {
    for (const auto& o : jobs::effective_outputs(job_.spec)) {
      // The name comes from a client: joined where the path is built, so
      // that no name can place the directory outside scratch/out.
      auto dir = names::join_plain(req_.scratch + "/out", o.name);
      if (!dir) return std::unexpected("output " + o.name + ": " + dir.error());
      std::error_code ec;
      // A remote run's directories are made only when files come back.
      if (!req_.remote && o.name != "outputs" && !fs::create_directory(*dir, ec) && ec)
        return std::unexpected("cannot make the directory of output " + o.name + ": " +
                               ec.message());
      if (req_.remote) {
        std::string rel = fs::path(*dir).lexically_relative(req_.scratch).string();
        run_.files.push_back({rel, true, ""});
        run_.mounts.push_back({std::move(rel), o.path, false});
      } else {
        run_.mounts.push_back({std::move(*dir), o.path, false});
      }
    }
    return {};
  }

  // stdin and the inline inputs as files; the import modules inside the run.
  std::expected<void, std::string> job_blobs() {
    if (!job_.spec.stdin_hash.empty()) {
      auto path = place_blob(blob_, job_.spec.stdin_hash, "stdin", "stdin", req_.scratch, run_);
      if (!path) return std::unexpected(path.error());
      run_.stdin_path = std::move(*path);
    }
    for (const auto& m : job_.spec.import_modules) {
      auto bytes = blob_(m.hash);
      if (!bytes || !*bytes)
        return std::unexpected("the bytes of import module " + m.name +
                               " are missing from the store" +
                               (bytes ? std::string() : ": " + bytes.error()));
      run_.import_modules.push_back({m.name, m.hash, std::move(**bytes)});
    }
    for (size_t i = 0; i < job_.spec.inline_inputs.size(); ++i) {
      const auto& in = job_.spec.inline_inputs[i];
      const std::string what = "inline input " + in.target;
      auto path =
          place_blob(blob_, in.hash, what, "inline-" + std::to_string(i), req_.scratch, run_);
      if (!path) return std::unexpected(path.error());
      if (req_.remote) {
        input_bytes_ += run_.files.back().data.size();
        if (input_bytes_ > limits_.input_bytes_cap)
          return std::unexpected(what + ": " + too_much(limits_.input_bytes_cap));
      }
      run_.mounts.push_back({std::move(*path), in.target, true});
    }
    return {};
  }

  const RunRequest& req_;
  const jobs::Job& job_;
  const BlobReader& blob_;
  const RunLimits& limits_;
  wire::Run run_;
  size_t inputs_ = 0;         // remote: in/K directories used
  uint64_t input_bytes_ = 0;  // remote: input bytes carried
};

}  // namespace

std::expected<std::string, std::string> place_blob(const BlobReader& blob, const std::string& hash,
                                                   const std::string& what, const std::string& name,
                                                   const std::string& scratch, wire::Run& run) {
  auto bytes = blob(hash);
  if (!bytes || !*bytes)
    return std::unexpected("the bytes of " + what + " are missing from the store" +
                           (bytes ? std::string() : ": " + bytes.error()));
  if (run.remote) {
    run.files.push_back({name, false, std::move(**bytes)});
    return name;
  }
  const std::string path = scratch + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  bool ok = f && std::fwrite((*bytes)->data(), 1, (*bytes)->size(), f) == (*bytes)->size();
  int err = errno;
  if (f && std::fclose(f) != 0) ok = false, err = errno;
  if (!ok)
    return std::unexpected("cannot write " + what +
                           " to the scratch directory: " + std::strerror(err));
  return path;
}

std::expected<wire::Run, std::string> build_run(const RunRequest& request, const BlobReader& blob,
                                                const RunLimits& limits) {
  return Builder(request, blob, limits).build();
}

}  // namespace shoal::broker
