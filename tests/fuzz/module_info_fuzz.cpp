// libFuzzer target: inspect_module on any bytes. It must answer (a module
// description or an error message), never read past the input or crash.
#include <cstdint>
#include <span>

#include "worker/module_info.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto info = shoal::worker::inspect_module(std::span<const uint8_t>(data, size));
  if (info) {
    for (const auto& i : info->imports)
      if (i.kind == shoal::worker::ExternKind::function) (void)shoal::worker::describe(i.type);
  } else if (info.error().empty()) {
    __builtin_trap();  // every refusal says why
  }
  return 0;
}
