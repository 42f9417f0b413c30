// Clocks, randomness and yielding.
#include <sched.h>
#include <sys/random.h>
#include <time.h>

#include <cerrno>

#include "wasi/calls.h"

namespace shoal::wasi::calls {
namespace {

Result<clockid_t> host_clock(uint32_t id) {
  switch (static_cast<abi::ClockId>(id)) {
    case abi::ClockId::realtime:
      return CLOCK_REALTIME;
    case abi::ClockId::monotonic:
      return CLOCK_MONOTONIC;
    case abi::ClockId::process_cputime_id:
      return CLOCK_PROCESS_CPUTIME_ID;
    case abi::ClockId::thread_cputime_id:
      return CLOCK_THREAD_CPUTIME_ID;
  }
  return std::unexpected(Errno::inval);
}

uint64_t nanos(const timespec& ts) {
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

Errno clock_res_get(Env&, Mem& mem, uint32_t clock_id, Ptr resolution_out) {
  auto clock = host_clock(clock_id);
  if (!clock) return clock.error();
  timespec ts;
  if (::clock_getres(*clock, &ts) != 0) return from_host_errno(errno);
  return mem.store<uint64_t>(resolution_out, nanos(ts));
}

Errno clock_time_get(Env&, Mem& mem, uint32_t clock_id, Timestamp /*precision*/, Ptr time_out) {
  auto clock = host_clock(clock_id);
  if (!clock) return clock.error();
  timespec ts;
  if (::clock_gettime(*clock, &ts) != 0) return from_host_errno(errno);
  return mem.store<uint64_t>(time_out, nanos(ts));
}

Errno random_get(Env&, Mem& mem, Ptr buf_ptr, Size buf_len) {
  auto buf = mem.bytes(buf_ptr, buf_len);
  if (!buf) return buf.error();
  size_t done = 0;
  while (done < buf->size()) {
    ssize_t n = ::getrandom(buf->data() + done, buf->size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return from_host_errno(errno);
    }
    done += static_cast<size_t>(n);
  }
  return Errno::success;
}

Errno sched_yield(Env&, Mem&) {
  ::sched_yield();
  return Errno::success;
}

}  // namespace shoal::wasi::calls
