// The guest's linear memory, as the WASI host may touch it.
//
// Every access goes through this type. Each pointer and length the guest
// hands us is checked against the memory's current size without overflow
// (both are 32-bit, their sum is computed in 64 bits); an access that does
// not fit fails with Errno::fault, which the function returns to the guest
// as EFAULT instead of trapping. See docs/wasi.md.
//
// A GuestMemory is a view: it is valid only until the guest runs again,
// because memory.grow may move or resize the memory. The engine builds a new
// one for every host call.
#pragma once

#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "wasi/errno.h"

namespace shoal::wasi {

class GuestMemory {
 public:
  GuestMemory(uint8_t* base, uint64_t size) : base_(base), size_(size) {}

  uint64_t size() const { return size_; }

  // The bytes [ptr, ptr + len), or fault.
  Result<std::span<uint8_t>> bytes(uint32_t ptr, uint32_t len) const {
    if (uint64_t{ptr} + len > size_) return std::unexpected(Errno::fault);
    return std::span<uint8_t>(base_ + ptr, len);
  }

  Result<std::string_view> string(uint32_t ptr, uint32_t len) const {
    auto b = bytes(ptr, len);
    if (!b) return std::unexpected(b.error());
    return std::string_view(reinterpret_cast<const char*>(b->data()), b->size());
  }

  // Little-endian loads and stores of integers (wasm is little-endian, and
  // so is every host shoal builds for).
  template <typename T>
  requires std::is_integral_v<T> Result<T> load(uint32_t ptr)
  const {
    auto b = bytes(ptr, sizeof(T));
    if (!b) return std::unexpected(b.error());
    T v;
    std::memcpy(&v, b->data(), sizeof(T));
    return v;
  }

  template <typename T>
  requires std::is_integral_v<T> Errno store(uint32_t ptr, T value)
  const {
    auto b = bytes(ptr, sizeof(T));
    if (!b) return b.error();
    std::memcpy(b->data(), &value, sizeof(T));
    return Errno::success;
  }

  // Copies `data` to guest memory at ptr; fault when it does not fit.
  Errno copy_in(uint32_t ptr, std::span<const uint8_t> data) const;

  // The buffers of an iovec array (`count` entries of {ptr, len} at `ptr`),
  // each checked. Fails with fault when the array or any buffer is out of
  // bounds, and with inval when the total length exceeds 2^32 - 1. Up to
  // four are held without an allocation (libc passes one or two).
  using IoVecs = boost::container::small_vector<std::span<uint8_t>, 4>;
  Result<IoVecs> iovecs(uint32_t ptr, uint32_t count) const;

 private:
  uint8_t* base_;
  uint64_t size_;
};

}  // namespace shoal::wasi
