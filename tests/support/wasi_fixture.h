// A WASI environment with a plain byte vector as guest memory and a
// temporary directory mounted at /sandbox, for calling the host functions
// directly in unit tests.
#pragma once

#include <cstring>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/print.h"
#include "tests/support/process.h"
#include "wasi/environment.h"
#include "wasi/functions.h"

namespace shoal::test {

struct WasiFixture {
  TempDir dir;
  std::vector<uint8_t> memory = std::vector<uint8_t>(65536);
  wasi::GuestMemory mem{memory.data(), memory.size()};
  wasi::BufferSink out, err;
  std::unique_ptr<wasi::Environment> env;
  static constexpr uint32_t kSandboxFd = 3;

  explicit WasiFixture(bool read_only = false) {
    wasi::Config c;
    c.args = {"prog", "arg"};
    c.env = {"A=1"};
    c.mounts = {{dir.path(), "/sandbox", read_only}};
    c.stdout_sink = &out;
    c.stderr_sink = &err;
    auto e = wasi::Environment::create(c);
    if (!e) throw std::runtime_error(e.error());
    env = std::move(*e);
  }

  wasi::Errno call(std::string_view name, std::initializer_list<uint64_t> args) {
    const wasi::Function* f = wasi::find_function(name);
    if (!f) throw std::runtime_error("no such function");
    if (args.size() != f->params.size()) throw std::runtime_error("wrong argument count");
    std::vector<uint64_t> a(args);
    a.resize(16);
    return f->handler(*env, mem, a.data());
  }

  // Places `s` in guest memory at ptr and returns its length.
  uint32_t put(uint32_t ptr, std::string_view s) {
    std::memcpy(memory.data() + ptr, s.data(), s.size());
    return static_cast<uint32_t>(s.size());
  }
  std::string get(uint32_t ptr, uint32_t len) const {
    return std::string(reinterpret_cast<const char*>(memory.data() + ptr), len);
  }
  uint32_t u32_at(uint32_t ptr) const {
    uint32_t v;
    std::memcpy(&v, memory.data() + ptr, 4);
    return v;
  }
  uint64_t u64_at(uint32_t ptr) const {
    uint64_t v;
    std::memcpy(&v, memory.data() + ptr, 8);
    return v;
  }
  void set_u32(uint32_t ptr, uint32_t v) { std::memcpy(memory.data() + ptr, &v, 4); }

  // path_open beneath the sandbox; returns the new fd or throws with the errno.
  wasi::Errno open(std::string_view path, uint32_t oflags, uint64_t rights, uint32_t& fd,
                   uint32_t lookup = 1, uint32_t fdflags = 0, uint32_t dirfd = kSandboxFd) {
    uint32_t len = put(1000, path);
    wasi::Errno e =
        call("path_open", {dirfd, lookup, 1000, len, oflags, rights, rights, fdflags, 900});
    fd = u32_at(900);
    return e;
  }
};

}  // namespace shoal::test
