// libFuzzer target: the WASI call dispatcher. Any sequence of calls, with
// any arguments, on any guest memory, against a sandbox directory holding
// symlinks that point outside it. No call may crash, touch memory outside
// the guest's (AddressSanitizer watches the bytes around it), or change or
// create anything outside the sandbox.
//
// Input: the guest memory's first bytes (a length byte, times 64), then
// calls, each one byte choosing the function (its index in
// preview1_functions()) followed by its arguments. An argument is a byte
// below 0x80 taken as is (fds, flags, lengths), 0x80 + n for the pointer
// n * 32 within the 4 KiB memory, or 0xff and 8 bytes (little-endian).
#include <fcntl.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "tests/fuzz/fuzz_tree.h"
#include "wasi/abi.h"
#include "wasi/environment.h"
#include "wasi/functions.h"

using namespace shoal;

namespace {

constexpr uint32_t kMemorySize = 4096;
constexpr size_t kMaxCalls = 24;

struct Input {
  const uint8_t* p;
  size_t left;
  bool take(uint8_t& b) {
    if (!left) return false;
    b = *p++;
    --left;
    return true;
  }
  uint64_t arg() {
    uint8_t b = 0;
    if (!take(b)) return 0;
    if (b < 0x80) return b;
    if (b != 0xff) return uint64_t{b - 0x80u} * 32;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      uint8_t x = 0;
      take(x);
      v |= uint64_t{x} << (8 * i);
    }
    return v;
  }
};

// Calls that would make one fuzz run slow without making it any more
// interesting are tamed: clock subscriptions wait at most a microsecond,
// fd_allocate reserves at most 64 KiB.
void tame(std::string_view name, uint8_t* memory, std::vector<uint64_t>& a) {
  namespace sub = wasi::abi::subscription;
  if (name == "poll_oneoff") {
    uint64_t count = a[2] & 0xffffffff;
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t at = (a[0] & 0xffffffff) + i * sub::size;
      if (at + sub::size > kMemorySize) break;
      uint64_t timeout = 1000;
      uint16_t flags = 0;
      std::memcpy(memory + at + sub::clock_timeout, &timeout, 8);
      std::memcpy(memory + at + sub::clock_flags, &flags, 2);
    }
  } else if (name == "fd_allocate") {
    a[1] %= 65536;
    a[2] %= 65536;
  } else if (name == "fd_filestat_set_size" || name == "fd_pwrite") {
    a[name == "fd_pwrite" ? 3 : 1] %= 1 << 20;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::FuzzTree tree;
  tree.reset();
  Input in{data, size};

  // Exactly the guest's bytes, so that AddressSanitizer flags any access past them.
  auto memory = std::make_unique<uint8_t[]>(kMemorySize);
  std::memset(memory.get(), 0, kMemorySize);
  uint8_t blocks = 0;
  in.take(blocks);
  size_t prefill = std::min<size_t>({size_t{blocks} * 64, in.left, kMemorySize});
  std::memcpy(memory.get(), in.p, prefill);
  in.p += prefill;
  in.left -= prefill;

  wasi::BufferSink out(1 << 16), err(1 << 16);
  wasi::Config config;
  config.args = {"fuzz", "arg"};
  config.env = {"A=1"};
  config.mounts = {{tree.base, "/sandbox", false}, {tree.base + "/a", "/ro", true}};
  config.stdout_sink = &out;
  config.stderr_sink = &err;
  config.max_fds = 16;
  auto env = wasi::Environment::create(config);
  if (!env) {
    std::fprintf(stderr, "%s\n", env.error().c_str());
    std::abort();
  }
  auto functions = wasi::preview1_functions();
  for (size_t call = 0; call < kMaxCalls && in.left; ++call) {
    uint8_t which = 0;
    in.take(which);
    const wasi::Function& f = functions[which % functions.size()];
    std::vector<uint64_t> args(16, 0);
    for (size_t i = 0; i < f.params.size(); ++i) {
      args[i] = in.arg();
      if (f.params[i] == 'i') args[i] &= 0xffffffff;  // the engine zero-extends i32
    }
    tame(f.name, memory.get(), args);
    wasi::GuestMemory mem(memory.get(), kMemorySize);
    (void)f.handler(**env, mem, args.data());
    if ((*env)->exit_code()) break;
  }
  env->reset();
  if (!tree.outside_intact()) fuzz::escaped("something outside the sandbox changed");
  return 0;
}
