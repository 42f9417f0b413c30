#include "wasi/guest_memory.h"

#include "wasi/abi.h"

namespace shoal::wasi {

Errno GuestMemory::copy_in(uint32_t ptr, std::span<const uint8_t> data) const {
  if (data.size() > UINT32_MAX) return Errno::fault;
  auto dst = bytes(ptr, static_cast<uint32_t>(data.size()));
  if (!dst) return dst.error();
  if (!data.empty()) std::memcpy(dst->data(), data.data(), data.size());
  return Errno::success;
}

Result<GuestMemory::IoVecs> GuestMemory::iovecs(uint32_t ptr, uint32_t count) const {
  if (uint64_t{count} * abi::iovec::size > size_) return std::unexpected(Errno::fault);
  auto array = bytes(ptr, count * abi::iovec::size);
  if (!array) return std::unexpected(array.error());
  IoVecs out;
  out.reserve(count);
  uint64_t total = 0;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t buf, len;
    std::memcpy(&buf, array->data() + i * abi::iovec::size + abi::iovec::buf, 4);
    std::memcpy(&len, array->data() + i * abi::iovec::size + abi::iovec::len, 4);
    auto b = bytes(buf, len);
    if (!b) return std::unexpected(b.error());
    total += len;
    if (total > UINT32_MAX) return std::unexpected(Errno::inval);
    out.push_back(*b);
  }
  return out;
}

}  // namespace shoal::wasi
