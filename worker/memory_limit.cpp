#include "worker/memory_limit.h"

#include <algorithm>

#include "protocol/units.h"

namespace shoal::worker {
namespace {

struct Cursor {
  std::span<const uint8_t> b;
  size_t pos = 0;

  bool u32(uint32_t& out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      if (pos >= b.size()) return false;
      uint8_t byte = b[pos++];
      v |= uint64_t{byte & 0x7fu} << shift;
      if (!(byte & 0x80)) {
        if (v > UINT32_MAX) return false;
        out = static_cast<uint32_t>(v);
        return true;
      }
    }
    return false;
  }
};

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  do {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    if (v) byte |= 0x80;
    out.push_back(byte);
  } while (v);
}

}  // namespace

std::expected<std::vector<uint8_t>, std::string> limit_memory(std::span<const uint8_t> module,
                                                              uint64_t max_bytes) {
  const uint64_t limit_pages = std::min<uint64_t>(max_bytes / kWasmPageSize, 65536);
  std::vector<uint8_t> out(module.begin(), module.begin() + std::min<size_t>(8, module.size()));
  Cursor c{module, 8};
  auto malformed = [] { return std::unexpected(std::string("malformed module (memory section)")); };
  while (c.pos < module.size()) {
    uint8_t id = module[c.pos++];
    uint32_t size;
    if (!c.u32(size) || size > module.size() - c.pos) return malformed();
    size_t end = c.pos + size;
    if (id != 5) {
      out.push_back(id);
      put_u32(out, size);
      out.insert(out.end(), module.begin() + static_cast<long>(c.pos),
                 module.begin() + static_cast<long>(end));
      c.pos = end;
      continue;
    }
    std::vector<uint8_t> body;
    uint32_t count;
    if (!c.u32(count)) return malformed();
    put_u32(body, count);
    for (uint32_t i = 0; i < count; ++i) {
      if (c.pos >= end) return malformed();
      uint8_t flags = module[c.pos++];
      if (flags & 0x04) return std::unexpected(std::string("64-bit memories are not supported"));
      uint32_t min, max = 65536;
      if (!c.u32(min)) return malformed();
      if ((flags & 1) && !c.u32(max)) return malformed();
      if (min > limit_pages)
        return std::unexpected(
            "the module needs " + units::format_bytes(uint64_t{min} * kWasmPageSize) +
            " of memory to start, more than the memory limit of " + units::format_bytes(max_bytes));
      body.push_back(static_cast<uint8_t>(flags | 1));
      put_u32(body, min);
      put_u32(body, static_cast<uint32_t>(std::min<uint64_t>(max, limit_pages)));
    }
    if (c.pos != end) return malformed();
    out.push_back(5);
    put_u32(out, static_cast<uint32_t>(body.size()));
    out.insert(out.end(), body.begin(), body.end());
  }
  return out;
}

}  // namespace shoal::worker
