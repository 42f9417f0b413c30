#include "worker/exec_command.h"

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "wasi/environment.h"
#include "wasi/output_sink.h"
#include "worker/engine.h"

namespace shoal::worker {
namespace {

int fail(const std::string& message) {
  fmt::print(stderr, "shoal: {}\n", message);
  return kExitUsage;
}

std::expected<std::vector<uint8_t>, std::string> read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return std::unexpected(path + ": is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(path + ": " + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (in.bad()) return std::unexpected(path + ": read failed");
  return bytes;
}

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

}  // namespace

int exec_command(int argc, char** argv) {
  CLI::App app{"Run a WASI command module here and now, without the broker.", "shoal exec"};
  std::vector<std::string> dirs, envs;
  std::string program, entry = "_start";
  std::vector<std::string> guest_args;
  app.add_option("--dir", dirs,
                 "Mount a host directory: HOST::GUEST (read-write), HOST::GUEST:ro, or DIR")
      ->type_name("HOST::GUEST[:ro]")
      ->allow_extra_args(false);
  app.add_option("-e,--env", envs, "Set an environment variable for the program")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  app.add_option("--entry-point", entry, "The exported function to call")->capture_default_str();
  app.add_option("program", program, "The .wasm module to run")->required();
  app.add_option("args", guest_args,
                 "Arguments for the program (put -- before ones that start "
                 "with a dash)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }

  wasi::Config config;
  config.args.push_back(program);
  config.args.insert(config.args.end(), guest_args.begin(), guest_args.end());
  for (const std::string& kv : envs) {
    if (kv.find('=') == std::string::npos || kv.front() == '=')
      return fail("-e " + kv + ": expected KEY=VALUE");
    config.env.push_back(kv);
  }
  for (const std::string& d : dirs) {
    auto m = parse_dir(d);
    if (!m) return fail(m.error());
    config.mounts.push_back(*m);
  }
  wasi::FdSink out(1), err(2);
  config.stdin_fd = 0;
  config.stdout_sink = &out;
  config.stderr_sink = &err;

  auto bytes = read_file(program);
  if (!bytes) return fail("cannot read " + bytes.error());
  auto env = wasi::Environment::create(config);
  if (!env) return fail(env.error());

  RunOptions options;
  options.entry_point = entry;
  auto result = run_wasi_command(*bytes, **env, options);
  if (!result) {
    fmt::print(stderr, "shoal: {}: {}\n", program, result.error().message);
    return result.error().kind == RunError::Kind::trap ? kExitTrap : kExitUsage;
  }
  return static_cast<int>(*result & 0xff);
}

}  // namespace shoal::worker
