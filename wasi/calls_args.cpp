// args_* and environ_*: the argument and environment strings, NUL-terminated,
// packed into the guest's buffer with a pointer to each.
#include "wasi/calls.h"

namespace shoal::wasi::calls {
namespace {

Errno sizes(const std::vector<std::string>& strings, const GuestMemory& mem, uint32_t count_ptr,
            uint32_t size_ptr) {
  uint64_t bytes = 0;
  for (const auto& s : strings) bytes += s.size() + 1;
  if (bytes > UINT32_MAX) return Errno::overflow;
  if (Errno e = mem.store<uint32_t>(count_ptr, static_cast<uint32_t>(strings.size()));
      e != Errno::success)
    return e;
  return mem.store<uint32_t>(size_ptr, static_cast<uint32_t>(bytes));
}

Errno strings_get(const std::vector<std::string>& strings, const GuestMemory& mem,
                  uint32_t pointers, uint32_t buffer) {
  uint32_t at = buffer;
  for (size_t i = 0; i < strings.size(); ++i) {
    const std::string& s = strings[i];
    if (Errno e = mem.store<uint32_t>(pointers + static_cast<uint32_t>(i * 4), at);
        e != Errno::success)
      return e;
    auto dst = mem.bytes(at, static_cast<uint32_t>(s.size() + 1));
    if (!dst) return dst.error();
    std::memcpy(dst->data(), s.c_str(), s.size() + 1);
    at += static_cast<uint32_t>(s.size() + 1);
  }
  return Errno::success;
}

}  // namespace

Errno args_sizes_get(Env& env, Mem& mem, Ptr argc_out, Ptr argv_buf_size_out) {
  return sizes(env.args(), mem, argc_out, argv_buf_size_out);
}
Errno args_get(Env& env, Mem& mem, Ptr argv, Ptr argv_buf) {
  return strings_get(env.args(), mem, argv, argv_buf);
}
Errno environ_sizes_get(Env& env, Mem& mem, Ptr count_out, Ptr buf_size_out) {
  return sizes(env.env(), mem, count_out, buf_size_out);
}
Errno environ_get(Env& env, Mem& mem, Ptr environ, Ptr environ_buf) {
  return strings_get(env.env(), mem, environ, environ_buf);
}

}  // namespace shoal::wasi::calls
