// Capping a module's linear memory by rewriting its declared maximum.
//
// V8 has no per-instance memory cap, but it honours the maximum a module
// declares: lowering that maximum in the memory section makes memory.grow
// fail (return -1) past the limit, so malloc returns NULL inside the guest,
// exactly as on a machine that ran out.
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <vector>

namespace shoal::worker {

inline constexpr uint64_t kWasmPageSize = 65536;

// Returns a copy of `module` whose defined memories declare a maximum of at
// most `max_bytes` (rounded down to whole pages). Fails with a message when
// a memory's initial size already exceeds the limit, or the module is
// malformed. A module that defines no memory is returned unchanged.
std::expected<std::vector<uint8_t>, std::string> limit_memory(std::span<const uint8_t> module,
                                                              uint64_t max_bytes);

}  // namespace shoal::worker
