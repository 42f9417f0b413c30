// libFuzzer target: limit_memory on any bytes, with limits from none to the
// 4 GiB most a 32-bit memory can have. It must answer without crashing, and
// its output, limited again with the same limit, must come back unchanged
// (every memory is already within the limit).
#include <cstdint>
#include <cstdio>
#include <span>

#include "worker/memory_limit.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> module(data, size);
  for (uint64_t pages : {0u, 1u, 17u, 256u, 65535u, 65536u, 70000u}) {
    uint64_t limit = pages * shoal::worker::kWasmPageSize;
    auto once = shoal::worker::limit_memory(module, limit);
    if (!once) {
      if (once.error().empty()) __builtin_trap();  // every refusal says why
      continue;
    }
    auto twice = shoal::worker::limit_memory(*once, limit);
    if (!twice || *twice != *once) {
      std::fprintf(stderr, "limit_memory(%llu pages) is not idempotent: %s\n",
                   static_cast<unsigned long long>(pages),
                   twice ? "the bytes changed" : twice.error().c_str());
      __builtin_trap();
    }
  }
  return 0;
}
