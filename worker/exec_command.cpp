#include "worker/exec_command.h"

#include <fmt/core.h>
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "host/state_dir.h"
#include "protocol/sha256.h"
#include "protocol/units.h"
#include "wasi/environment.h"
#include "wasi/file_stat.h"
#include "wasi/output_sink.h"
#include "worker/engine.h"
#include "worker/memory_limit.h"

namespace shoal::worker {
namespace {

// What the guest is told its stdout or stderr is: a terminal when the
// host's is one, else what the host's is (a pipe or /dev/null as "unknown"),
// so that wasi-libc buffers output as a native program would: by line on a
// terminal, by block elsewhere.
wasi::abi::Filetype host_output_type(int fd) {
  if (::isatty(fd)) return wasi::abi::Filetype::character_device;
  struct stat st;
  if (::fstat(fd, &st) != 0) return wasi::abi::Filetype::unknown;
  wasi::abi::Filetype t = wasi::filetype_of(st.st_mode);
  return t == wasi::abi::Filetype::character_device ? wasi::abi::Filetype::unknown : t;
}

int fail(const std::string& message) {
  fmt::print(stderr, "shoal: {}\n", message);
  return kExitUsage;
}

// The module file, mapped read-only: V8 reads it in place, so a large module
// is not copied once more on its way in.
class MappedFile {
 public:
  static std::expected<std::unique_ptr<MappedFile>, std::string> open(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return std::unexpected(path + ": is a directory");
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::unexpected(path + ": " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int e = errno;
      ::close(fd);
      return std::unexpected(path + ": " + std::strerror(e));
    }
    std::unique_ptr<MappedFile> file(new MappedFile());
    file->size_ = static_cast<size_t>(st.st_size);
    if (file->size_ > 0) {
      void* p = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        int e = errno;
        ::close(fd);
        return std::unexpected(path + ": " + std::strerror(e));
      }
      file->data_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);
    return file;
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// "HOST::GUEST", "HOST::GUEST:ro" or "DIR" (the same path on both sides).
std::expected<wasi::Mount, std::string> parse_dir(const std::string& spec) {
  wasi::Mount m;
  auto sep = spec.find("::");
  if (sep == std::string::npos) {
    m.host_path = m.guest_path = spec;
  } else {
    m.host_path = spec.substr(0, sep);
    m.guest_path = spec.substr(sep + 2);
    for (std::string_view suffix : {":ro", ":rw"}) {
      if (m.guest_path.size() > suffix.size() && m.guest_path.ends_with(suffix)) {
        m.read_only = suffix == ":ro";
        m.guest_path.resize(m.guest_path.size() - suffix.size());
      }
    }
  }
  if (m.host_path.empty() || m.guest_path.empty())
    return std::unexpected("--dir " + spec + ": expected HOST::GUEST[:ro] or DIR");
  return m;
}

const char* describe(RunStats::Source source) {
  switch (source) {
    case RunStats::Source::code_cache:
      return "hit";
    case RunStats::Source::worker_memory:
      return "hit (in memory)";
    case RunStats::Source::compiled:
      break;
  }
  return "miss, compiled";
}

// The flags of `shoal exec`, as given.
struct ExecFlags {
  std::vector<std::string> dirs, envs, guest_args;
  std::string program, entry = "_start";
  double timeout = 0;
  std::string memory, stdout_limit, stderr_limit;
  uint32_t max_fds = 1024;
  std::string code_cache;
  bool no_code_cache = false, verbose = false;
};

void add_flags(CLI::App& app, ExecFlags& f) {
  app.add_option("--dir", f.dirs,
                 "Mount a host directory: HOST::GUEST (read-write), HOST::GUEST:ro, or DIR")
      ->type_name("HOST::GUEST[:ro]")
      ->allow_extra_args(false);
  app.add_option("-e,--env", f.envs, "Set an environment variable for the program")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  app.add_option("--entry-point", f.entry, "The exported function to call")->capture_default_str();
  app.add_option("--timeout", f.timeout, "Stop the program after this many seconds (0: never)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--memory", f.memory, "Cap the program's linear memory, e.g. 256MiB or 2GiB")
      ->type_name("SIZE");
  app.add_option("--stdout-limit", f.stdout_limit,
                 "Keep at most this much of stdout; the rest is dropped and reported")
      ->type_name("SIZE");
  app.add_option("--stderr-limit", f.stderr_limit,
                 "Keep at most this much of stderr; the rest is dropped and reported")
      ->type_name("SIZE");
  app.add_option("--max-fds", f.max_fds, "The most file descriptors the program may hold open")
      ->capture_default_str()
      ->check(CLI::Range(8u, 1u << 20));
  app.add_option("--code-cache", f.code_cache,
                 "Keep compiled code in this directory for later starts (default: "
                 "$SHOAL_HOME/cache/code)")
      ->type_name("DIR");
  app.add_flag("--no-code-cache", f.no_code_cache, "Compile the module without the code cache");
  app.add_flag("-v,--verbose", f.verbose,
               "Say on stderr where the compiled module came from and what preparing it took");
  app.add_option("program", f.program, "The .wasm module to run")->required();
  app.add_option("args", f.guest_args,
                 "Arguments for the program: everything after the module, dashes and "
                 "all (shoal's own flags go before it)");
}

// wasmtime's convention: every argument after the module is the program's,
// even one that looks like a flag (`shoal exec cc.wasm -O2 -c x.c`). The
// module is the first argument that is neither a flag of `app` nor a flag's
// value; "--" is put after it, unless the command line already has one
// before or right after it.
std::vector<std::string> program_args_marked(const CLI::App& app, int argc, char** argv) {
  std::vector<std::string> out(argv, argv + argc);
  for (size_t i = 1; i < out.size(); ++i) {
    const std::string& a = out[i];
    if (a == "--") break;
    if (a.size() > 1 && a[0] == '-') {
      if (a.find('=') != std::string::npos) continue;
      const CLI::Option* o = app.get_option_no_throw(a);
      if (o && o->get_items_expected_max() > 0) ++i;  // its value
      continue;
    }
    if (i + 1 < out.size() && out[i + 1] != "--") out.insert(out.begin() + long(i) + 1, "--");
    break;
  }
  return out;
}

// A size flag's value; unset: no limit.
std::expected<uint64_t, std::string> size_flag(const char* flag, const std::string& text) {
  if (text.empty()) return UINT64_MAX;
  auto n = units::parse_size(text);
  if (!n) return std::unexpected(std::string(flag) + ": " + n.error());
  return *n;
}

// The guest's arguments, environment, mounts and fd cap from the flags.
std::expected<wasi::Config, std::string> guest_config(const ExecFlags& f) {
  wasi::Config config;
  config.args.push_back(f.program);
  config.args.insert(config.args.end(), f.guest_args.begin(), f.guest_args.end());
  for (const std::string& kv : f.envs) {
    if (kv.find('=') == std::string::npos || kv.front() == '=')
      return std::unexpected("-e " + kv + ": expected KEY=VALUE");
    config.env.push_back(kv);
  }
  for (const std::string& d : f.dirs) {
    auto m = parse_dir(d);
    if (!m) return std::unexpected(m.error());
    config.mounts.push_back(*m);
  }
  config.max_fds = f.max_fds;
  return config;
}

// The entry point, memory limit and timeout from the flags.
std::expected<RunOptions, std::string> run_options(const ExecFlags& f) {
  RunOptions options;
  options.entry_point = f.entry;
  if (!f.memory.empty()) {
    auto m = size_flag("--memory", f.memory);
    if (!m) return std::unexpected(m.error());
    if (*m < kWasmPageSize)
      return std::unexpected("--memory " + f.memory + ": less than one 64 KiB page");
    options.memory_limit = *m;
  }
  if (f.timeout > 0)
    options.timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(f.timeout));
  return options;
}

// What --verbose says, the output that was dropped, and the failure; the
// exit status.
int report(const ExecFlags& f, const std::expected<uint32_t, RunError>& result,
           const RunStats& stats, const std::vector<std::string>& notes, const wasi::FdSink& out,
           const wasi::FdSink& err) {
  if (f.verbose) {
    if (!f.no_code_cache)
      fmt::print(stderr, "shoal: code cache: {}{}{}\n", describe(stats.source),
                 stats.cache_partial ? " (partial: some functions compile on first call)" : "",
                 stats.cache_note.empty() ? "" : " (" + stats.cache_note + ")");
    fmt::print(stderr, "shoal: prepared in {:.2f} ms\n",
               std::chrono::duration<double, std::milli>(stats.prepare).count());
    for (const std::string& line : notes) fmt::print(stderr, "shoal: {}\n", line);
  }
  if (out.dropped())
    fmt::print(stderr, "shoal: stdout truncated: {} bytes past --stdout-limit were dropped\n",
               out.dropped());
  if (err.dropped())
    fmt::print(stderr, "shoal: stderr truncated: {} bytes past --stderr-limit were dropped\n",
               err.dropped());
  if (result) return static_cast<int>(*result & 0xff);
  fmt::print(stderr, "shoal: {}: {}\n", f.program, run_error_text(result.error()));
  switch (result.error().kind) {
    case RunError::Kind::trap:
      return kExitTrap;
    case RunError::Kind::timeout:
      return kExitTimeout;
    default:
      return kExitUsage;
  }
}

}  // namespace

int exec_command(int argc, char** argv) {
  CLI::App app{"Run a WASI command module here and now, without the broker.", "shoal exec"};
  ExecFlags f;
  add_flags(app, f);
  std::vector<std::string> args = program_args_marked(app, argc, argv);
  std::vector<char*> marked;
  for (auto& a : args) marked.push_back(a.data());
  try {
    app.parse(static_cast<int>(marked.size()), marked.data());
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  auto config = guest_config(f);
  if (!config) return fail(config.error());
  auto out_cap = size_flag("--stdout-limit", f.stdout_limit);
  if (!out_cap) return fail(out_cap.error());
  auto err_cap = size_flag("--stderr-limit", f.stderr_limit);
  if (!err_cap) return fail(err_cap.error());
  auto options = run_options(f);
  if (!options) return fail(options.error());

  wasi::FdSink out(1, *out_cap), err(2, *err_cap);
  config->stdin_fd = 0;
  config->stdout_sink = &out;
  config->stderr_sink = &err;
  config->stdout_filetype = host_output_type(1);
  config->stderr_filetype = host_output_type(2);

  auto file = MappedFile::open(f.program);
  if (!file) return fail("cannot read " + file.error());
  const std::span<const uint8_t> bytes = (*file)->bytes();
  auto env = wasi::Environment::create(*config);
  if (!env) return fail(env.error());

  std::vector<std::string> notes;
  if (!f.no_code_cache) {
    EngineSettings settings;
    settings.code_cache_dir =
        f.code_cache.empty() ? host::state_dir().cache + "/code" : f.code_cache;
    settings.log = [&notes](const std::string& line) { notes.push_back(line); };
    if (f.verbose) settings.stored = settings.log;
    configure_engine(std::move(settings));
    options->cache_key = sha256_hex({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
  }
  RunStats stats;
  options->stats = &stats;
  auto result = run_wasi_command(bytes, **env, *options);
  // A first start leaves its code for the cache once V8 has optimised it;
  // the process waits for that (bounded) since it exits next.
  if (!f.no_code_cache) engine_idle_work(std::chrono::seconds(20));
  if (f.verbose)
    if (auto note = refusal_note(result, **env); !note.empty()) notes.push_back(note);
  return report(f, result, stats, notes, out, err);
}

}  // namespace shoal::worker
