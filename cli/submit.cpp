// Submitting a RunRequest and waiting for the job: the part `shoal wasm
// run` and `shoal job run` share.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/core.h>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <thread>
#include <utility>

#include "cli/array_view.h"
#include "cli/commands.h"
#include "cli/input_spec.h"
#include "cli/job_view.h"
#include "cli/module_hash_cache.h"
#include "cli/progress.h"
#include "cli/results.h"
#include "cli/run_request.h"
#include "host/fetch.h"
#include "protocol/job_json.h"
#include "protocol/sha256.h"

namespace shoal::cli {
namespace {

// Ctrl-C while `wasm run` waits: counted here, so that the wait ends with
// words instead of the bare ^C of a killed process (see interrupted()),
// and a byte written to a pipe that ends the client's wait for a reply
// (client::set_interrupt_fd): a Ctrl-C between two waits would otherwise
// leave the next one blocked.
volatile std::sig_atomic_t g_interrupts = 0;
int g_interrupt_pipe[2] = {-1, -1};
void on_interrupt(int) {
  g_interrupts = g_interrupts + 1;
  if (g_interrupt_pipe[1] >= 0) {
    const int saved = errno;
    (void)!::write(g_interrupt_pipe[1], "!", 1);
    errno = saved;
  }
}

// Catches SIGINT while it lives (no SA_RESTART: a blocked wait returns).
struct InterruptCatcher {
  struct sigaction old {};
  InterruptCatcher() {
    g_interrupts = 0;
    if (::pipe2(g_interrupt_pipe, O_CLOEXEC | O_NONBLOCK) == 0)
      client::set_interrupt_fd(g_interrupt_pipe[0]);
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    ::sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old);
  }
  ~InterruptCatcher() {
    ::sigaction(SIGINT, &old, nullptr);
    release();
    for (int& fd : g_interrupt_pipe)
      if (fd >= 0) ::close(std::exchange(fd, -1));
  }
  // The client's waits are no longer ended by a Ctrl-C (interrupted()
  // still asks the broker to stop the job).
  static void release() { client::set_interrupt_fd(-1); }
};

// After a Ctrl-C: the job goes on, and the user is told how to follow or
// stop it; a second Ctrl-C within three seconds stops it.
int interrupted(Backend& c, const std::string& id) {
  fmt::print(stderr,
             "\nshoal: job {} goes on without this command: follow it with shoal job logs -f "
             "{}, stop it with shoal job stop {} (or press Ctrl-C again within 3 s to stop it "
             "now)\n",
             id, id, id);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (g_interrupts < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (g_interrupts < 2) return kExitJobStopped;
  InterruptCatcher::release();
  auto stopped = c.stop(id);
  if (!stopped) return fail("job " + id + " could not be stopped: " + stopped.error());
  fmt::print(stderr, "shoal: the broker was asked to stop job {}\n", id);
  return kExitJobStopped;
}

using nlohmann::json;

// Downloads a URL here, with a progress bar on a terminal.
std::expected<std::string, std::string> download(const std::string& url) {
  ProgressBar bar(2, std::filesystem::path(url).filename().string());
  host::FetchOptions options;
  options.progress = [&bar](uint64_t done, std::optional<uint64_t> total) {
    bar.update(done, total);
  };
  auto got = host::fetch_bytes(url, options);
  bar.finish();
  if (!got) return std::unexpected("module " + got.error().message);
  return *std::move(got);
}

}  // namespace

std::expected<std::string, std::string> read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return std::unexpected(path + ": is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(path + ": " + std::strerror(errno));
  // In one read where the size is known (not a pipe), then whatever
  // follows.
  std::string bytes;
  auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > 0) {
    bytes.resize(size);
    in.read(bytes.data(), static_cast<std::streamsize>(size));
    bytes.resize(static_cast<size_t>(in.gcount()));
  }
  bytes.append(std::istreambuf_iterator<char>(in.rdbuf()), {});  // a pipe, or a file that grew
  if (in.bad()) return std::unexpected(path + ": " + std::strerror(errno));
  return bytes;
}

std::expected<std::vector<ImportModuleRef>, std::string> import_modules_from_flags(
    const std::vector<std::string>& values) {
  std::vector<ImportModuleRef> out;
  std::set<std::string> names;
  for (const auto& v : values) {
    auto m = parse_module(v);
    if (!m) return std::unexpected("--import-modules " + m.error());
    ImportModuleRef ref;
    ref.module.kind = m->kind == SourceKind::url ? ModuleRef::Kind::url : ModuleRef::Kind::local;
    ref.module.source = m->source;
    ref.name = import_module_name(m->source);
    if (ref.name.empty())
      return std::unexpected("--import-modules " + v + ": cannot tell the module's name");
    if (!names.insert(ref.name).second)
      return std::unexpected("--import-modules " + v + ": another import module is named '" +
                             ref.name + "' (a module's name is its file name without .wasm)");
    out.push_back(std::move(ref));
  }
  return out;
}

std::expected<FileBytes, std::string> load_module(const ModuleRef& module) {
  std::expected<FileBytes, std::string> bytes = std::unexpected("");
  std::string shown = module.target.empty() ? module.source : module.target;
  switch (module.kind) {
    case ModuleRef::Kind::local:
      bytes = FileBytes::open(module.source);
      if (!bytes) return std::unexpected("cannot read " + bytes.error());
      break;
    case ModuleRef::Kind::url: {
      auto got = download(module.source);
      if (!got) return std::unexpected(got.error());
      bytes = FileBytes::hold(std::move(*got));
      break;
    }
    case ModuleRef::Kind::inline_data:
      bytes = FileBytes::hold(module.bytes);
      shown = module.target.empty() ? "the inline module" : module.target;
      break;
    case ModuleRef::Kind::stored:  // no bytes: submitted by its SHA-256 (submission)
      return FileBytes::hold("");
  }
  const std::string_view b = bytes->view();
  if (b.size() < 8 || b.substr(0, 4) != std::string_view("\0asm", 4))
    return std::unexpected(shown + " is not a WebAssembly module");
  return bytes;
}

namespace {

// The submission of `request`: the spec with its import modules and inline
// inputs, and the bytes that travel with it. `module` must outlive it.
std::expected<client::Submission, std::string> submission(const RunRequest& request,
                                                          const FileBytes& module) {
  jobs::JobSpec spec = request.spec;
  client::Submission job;
  job.module_view = module.view();
  if (request.stdin_file == "-") {
    job.stdin_data =
        std::string((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  } else if (!request.stdin_file.empty()) {
    auto in = read_file(request.stdin_file);
    if (!in) return std::unexpected("--stdin " + in.error());
    job.stdin_data = std::move(*in);
  }
  for (const auto& imp : request.imports) {
    auto bytes = load_module(imp.module);
    if (!bytes) return std::unexpected("import module " + imp.name + ": " + bytes.error());
    job.import_modules.emplace_back(bytes->view());
    spec.import_modules.push_back(
        {imp.name, imp.module.target.empty() ? imp.module.source : imp.module.target, ""});
  }
  for (const auto& in : request.inline_inputs) {
    job.inline_inputs.push_back(in.bytes);
    spec.inline_inputs.push_back({in.target, "", 0});
  }
  job.spec = jobs::submission_json(spec);
  // A stored module goes by its SHA-256 alone (docs/protocol.md, submit).
  if (request.module.kind == ModuleRef::Kind::stored)
    job.spec["module_sha256"] = request.module.source;
  if (request.array) job.array = jobs::to_json(*request.array);
  return job;
}

// The SHA-256 of a large module file, remembered by its identity so that
// a file run before is not hashed again; "" for a small or unnamed one.
std::string known_module_hash(const client::Client& c, FileBytes& module) {
  const auto& file = module.identity();
  if (!file || file->size < ModuleHashCache::kMinSize) return "";
  ModuleHashCache hashes(c.state_dir() + "/cache/module-hashes");
  if (auto known = hashes.lookup(*file)) return *known;
  module.prefault();
  std::string hash = sha256_hex(module.view());
  hashes.remember(*file, hash);
  return hash;
}

// Waits for job `id` as `o` says, printing its output; the exit status.
int wait_and_print(Backend& c, const std::string& id, const WaitOptions& o, bool tty) {
  json end;
  InterruptCatcher catcher;
  if (o.follow && !o.id_only) {
    auto e = c.logs(id, client::Stream::all, true, write_chunk);
    if (!e && g_interrupts) return interrupted(c, id);
    if (!e) return fail(e.error());
    end = *e;
  } else {
    std::optional<std::chrono::milliseconds> limit;
    if (o.wait_timeout_s > 0)
      limit = std::chrono::milliseconds(static_cast<int64_t>(o.wait_timeout_s * 1000));
    auto e = wait_for_end(c, id, tty && !o.id_only, limit);
    if (!e && g_interrupts) return interrupted(c, id);
    if (!e) {
      fail(e.error());
      if (o.downloads())
        fail("the results of job " + id + " were not written (it has not ended): shoal job get " +
             id + " writes them once it has");
      return kExitWaitTimeout;
    }
    end = *e;
    if (!o.id_only) (void)c.logs(id, client::Stream::all, false, write_chunk);
  }
  std::fflush(stdout);
  say_how_it_ended(end);
  say_what_was_cut(end);
  if (o.downloads()) {
    auto dir = write_results(c, id, o.output_dir);
    if (!dir) return fail("the results of job " + id + " were not written: " + dir.error());
    fmt::print(stderr, "Results of job {} written to {}\n", id, *dir);
  }
  return exit_status_of(end);
}

// An array submitted: its id, then (per `o`) its progress and summary.
// The tasks' output stays in the store (shoal job get ID writes it).
int wait_for_array_run(client::Client& c, const std::string& id, const WaitOptions& o, bool tty) {
  fmt::print("{}\n", id);
  std::fflush(stdout);
  if (!o.wait) {
    if (tty && !o.id_only)
      fmt::print(stderr, "To wait for it: shoal job wait {}; its results: shoal job get {}\n", id,
                 id);
    return 0;
  }
  std::optional<std::chrono::milliseconds> limit;
  if (o.wait_timeout_s > 0)
    limit = std::chrono::milliseconds(static_cast<int64_t>(o.wait_timeout_s * 1000));
  return wait_for_array(c, id, tty && !o.id_only, limit);
}

}  // namespace

int submit_job(const RunRequest& request, const WaitOptions& o) {
  if (o.downloads() && !o.wait)
    return fail(std::string(o.download ? "--download" : "--output-dir") +
                " needs --wait: the results are written when the job ends (drop --wait=false, "
                "or write them later with shoal job get ID)");
  // stdout, stderr and exitCode go there whatever the job writes: a place
  // that holds one of them already is refused before the job runs.
  if (!o.output_dir.empty())
    if (auto fit = client::results_fit({{"exit_code", 0}}, o.output_dir); !fit)
      return fail("--output-dir " + o.output_dir + ": " + fit.error() + " (nothing was submitted)");
  auto module = load_module(request.module);
  if (!module) return fail(module.error());
  auto job = submission(request, *module);
  if (!job) return fail(job.error());
  auto c = open_backend();
  if (!c) return fail(c.error());
  auto* socket = (*c)->socket();
  if (request.array && !socket)
    return fail("shoal " + command_name() +
                " --array/--each-input does not work over the REST API: run it without "
                "--api-host/--api-port");
  if (socket) job->module_sha256 = known_module_hash(*socket, *module);
  auto r = (*c)->submit(request, *job);
  if (!r && request.module.kind == ModuleRef::Kind::stored &&
      r.error().find("no module with module_sha256") != std::string::npos)
    return fail("the module of the job described (SHA-256 " + request.module.source +
                ") is no longer stored by the broker: give EntryModule as a file or URL and "
                "remove Tasks[0].Meta");
  if (!r) return fail(r.error());
  std::string id = *r;
  if (request.array) return wait_for_array_run(*socket, id, o, ::isatty(2));
  return wait_for_job(**c, id, o, "submitted");
}

int wait_for_job(Backend& c, const std::string& id, const WaitOptions& o, std::string_view done) {
  const bool tty = ::isatty(2);
  if (o.id_only) {
    fmt::print("{}\n", id);
    std::fflush(stdout);
  } else if (!o.wait) {
    fmt::print("{}\n", id);
    if (tty) fmt::print(stderr, "To follow it: shoal job logs -f {}\n", id);
    return 0;
  } else if (tty) {
    fmt::print(stderr, "Job {} {}\n", id, done);
  }
  if (!o.wait) return 0;
  return wait_and_print(c, id, o, tty);
}

}  // namespace shoal::cli
