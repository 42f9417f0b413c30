// Remote workers (docs/remote.md): a worker pool on another host
// (`shoal worker`) has none of the broker's files, so its runs carry the
// bytes: the inputs (read here, URL inputs from the URL cache), stdin, and
// the module once per host; the output files come back in `done`.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "broker/broker_impl.h"

namespace shoal::broker {
namespace {

namespace fs = std::filesystem;

// The bytes of the regular file at `path`, at most `room` of them (more is
// an error naming the cap). Opened without blocking, so that a FIFO put
// where a file was is refused rather than waited on; a symbolic link is
// followed only when `follow` (the input itself, which its client named),
// never inside an input directory, whose links may point anywhere on the
// broker's host.
std::expected<std::string, std::string> read_file(const fs::path& path, bool follow, uint64_t room,
                                                  uint64_t cap) {
  int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW);
  int fd = ::open(path.c_str(), flags);
  if (fd < 0)
    return std::unexpected(path.string() + ": " +
                           (errno == ELOOP ? "a symbolic link" : std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return std::unexpected(path.string() + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return std::unexpected(path.string() + ": not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > room)
    return std::unexpected("the inputs exceed " + std::to_string(cap) +
                           " bytes, the most a remote worker is sent");
  std::string data(size, '\0');
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::read(fd, data.data() + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected(path.string() + ": " + std::strerror(errno));
    if (n == 0) break;  // it shrank meanwhile
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  return data;
}

// Adds `source` (a file or a directory tree) under `dest` to `files`.
// Symbolic links inside a directory are left out: their targets may lie
// anywhere on the broker's host.
std::expected<void, std::string> bundle(const fs::path& source, const std::string& dest,
                                        std::vector<wire::FileEntry>& files, uint64_t& bytes,
                                        uint64_t cap) {
  std::error_code ec;
  auto add_file = [&](const fs::path& p, const std::string& rel,
                      bool follow) -> std::expected<void, std::string> {
    auto data = read_file(p, follow, cap - bytes, cap);
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

}  // namespace

void Broker::on_remote_ready(const std::string& name, const wire::Ready& ready) {
  auto it = workers_.find(name);
  if (it != workers_.end()) {
    if (!it->second.remote) {
      send_to_worker(name, wire::kBye, "");  // a remote worker may not take a local name
      return;
    }
    // The same worker again: it restarted after losing us, so whatever it ran is over.
    if (!it->second.exec_id.empty())
      on_worker_lost(name, "restarted after losing the broker");
    else
      workers_.erase(it);
  }
  WorkerState w;
  w.name = name;
  w.ready = true;
  w.last_seen = Clock::now();
  w.remote = true;
  w.host = ready.host.empty() ? name : ready.host;
  w.labels = ready.labels;
  std::string labels;
  for (const auto& [k, v] : w.labels) labels += (labels.empty() ? "" : ",") + k + "=" + v;
  log_->info("remote worker {} joined from {} (labels: {})", name, w.host,
             labels.empty() ? "none" : labels);
  workers_[name] = std::move(w);
}

std::expected<void, std::string> Broker::make_remote(wire::Run& run, const std::string& scratch) {
  run.remote = true;
  run.scratch_dir.clear();
  run.output_bytes_cap = opt_.output_bytes_cap;
  run.output_files_cap = opt_.output_files_cap;
  uint64_t bytes = 0;
  size_t input = 0;
  for (auto& m : run.mounts) {
    if (m.read_only) {
      std::string dest = "in/" + std::to_string(input++);
      if (m.host.empty()) return std::unexpected("input " + m.guest + " was not staged");
      std::error_code ec;
      bool single = fs::is_regular_file(m.host, ec);
      if (auto r = bundle(m.host, dest, run.files, bytes, opt_.input_bytes_cap); !r)
        return std::unexpected("input " + r.error());
      // A single file is mounted as itself, as it is locally.
      m.host = single ? run.files.back().path : dest;
    } else {
      // An output directory: scratch/out/NAME here, out/NAME there.
      std::string rel = fs::path(m.host).lexically_relative(scratch).string();
      run.files.push_back({rel, true, ""});
      m.host = rel;
    }
  }
  if (!run.stdin_path.empty()) {
    auto data = read_file(run.stdin_path, false, UINT64_MAX, UINT64_MAX);
    if (!data) return std::unexpected("stdin " + data.error());
    run.files.push_back({"stdin", false, std::move(*data)});
    run.stdin_path = "stdin";
  }
  return {};
}

bool Broker::sent_module(const WorkerState& w, const std::string& hash) const {
  if (!w.remote) return w.modules.contains(hash);
  auto host = host_modules_.find(w.host);
  return host != host_modules_.end() && host->second.contains(hash);
}

void Broker::record_module(WorkerState& w, const std::string& hash) {
  if (w.remote) {
    host_modules_[w.host].insert(hash);
    return;
  }
  if (w.modules.size() >= kWorkerModules) w.modules.clear();
  w.modules.insert(hash);
}

void Broker::on_need_module(WorkerState& w, const std::string& exec_id) {
  if (exec_id != w.exec_id) return;  // a run that is no longer its
  auto job = active_.find(w.job_id);
  if (job == active_.end()) return;
  auto module = get_blob(job->second.spec.module_hash);
  if (!module || !*module) {
    log_->error("worker {} asked for module {}, which the store lacks", w.name,
                job->second.spec.module_hash);
    return;
  }
  log_->debug("sending module {} to {} again", job->second.spec.module_hash, w.name);
  send_to_worker(
      w.name, wire::kModule,
      wire::encode(wire::ModuleBytes{job->second.spec.module_hash, std::move(**module)}));
}

void Broker::unpack_outputs(const wire::Done& done, const std::string& scratch, jobs::Job& job) {
  size_t refused = 0;
  for (const auto& f : done.outputs) {
    fs::path dest = fs::path(scratch) / "out" / f.path;
    std::error_code ec;
    // Only into an output directory this run was given.
    std::string top = f.path.substr(0, f.path.find('/'));
    if (!wire::safe_relative_path(f.path) || f.path.find('/') == std::string::npos ||
        !fs::is_directory(fs::path(scratch) / "out" / top, ec)) {
      ++refused;
      continue;
    }
    fs::create_directories(dest.parent_path(), ec);
    if (f.directory) {
      fs::create_directories(dest, ec);
      continue;
    }
    std::ofstream out(dest, std::ios::binary | std::ios::trunc);
    out.write(f.data.data(), static_cast<std::streamsize>(f.data.size()));
    if (!out) ++refused;
  }
  if (!done.outputs_message.empty()) event(job, "Output", "on the worker: " + done.outputs_message);
  if (refused)
    event(job, "Output",
          std::to_string(refused) +
              " output files from the worker had unusable paths and were dropped");
}

}  // namespace shoal::broker
