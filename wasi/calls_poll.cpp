// poll_oneoff: waits for clock deadlines and fd readiness.
//
// Regular files and the output streams are always ready (as poll(2) says of
// files); other host descriptors (a pipe or terminal on stdin) are polled.
#include <poll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <vector>

#include "wasi/calls.h"

namespace shoal::wasi::calls {
namespace {

struct Event {
  uint64_t userdata;
  Errno error;
  uint8_t type;
  uint64_t nbytes;
  uint16_t flags;
};

uint64_t now_ns(clockid_t clock) {
  timespec ts;
  ::clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// What one poll_oneoff call waits for: events already known, host
// descriptors to poll (with the event each gives), and clock deadlines.
struct Waits {
  struct Timer {
    uint64_t userdata;
    uint64_t deadline_mono;  // on CLOCK_MONOTONIC
  };
  std::vector<Event> ready;
  std::vector<pollfd> polled;
  std::vector<Event> polled_events;  // one per entry of polled
  std::vector<Timer> timers;
};

void add_clock(Waits& w, uint64_t userdata, const uint8_t* s) {
  uint32_t id;
  uint64_t timeout;
  uint16_t flags;
  std::memcpy(&id, s + abi::subscription::clock_id, 4);
  std::memcpy(&timeout, s + abi::subscription::clock_timeout, 8);
  std::memcpy(&flags, s + abi::subscription::clock_flags, 2);
  clockid_t clock;
  switch (static_cast<abi::ClockId>(id)) {
    case abi::ClockId::realtime:
      clock = CLOCK_REALTIME;
      break;
    case abi::ClockId::monotonic:
      clock = CLOCK_MONOTONIC;
      break;
    default:
      w.ready.push_back({userdata, Errno::inval, abi::subscription::tag_clock, 0, 0});
      return;
  }
  uint64_t rel = timeout;
  if (flags & abi::subscription::clock_abstime) {
    uint64_t now = now_ns(clock);
    rel = timeout > now ? timeout - now : 0;
  }
  w.timers.push_back({userdata, now_ns(CLOCK_MONOTONIC) + rel});
}

void add_fd(Waits& w, Env& env, uint64_t userdata, uint8_t tag, const uint8_t* s) {
  uint32_t fd;
  std::memcpy(&fd, s + abi::subscription::fd, 4);
  auto e = env.fds().get(fd, abi::right::poll_fd_readwrite);
  if (!e) return w.ready.push_back({userdata, e.error(), tag, 0, 0});
  FdEntry* entry = *e;
  const bool reading = tag == abi::subscription::tag_fd_read;
  if (!entry->host.valid())  // output sinks, or an empty stdin (at EOF)
    return w.ready.push_back(
        {userdata, Errno::success, tag, 0,
         static_cast<uint16_t>(reading ? abi::event::fd_readwrite_hangup : 0)});
  struct stat st;
  if (::fstat(entry->host.get(), &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
    uint64_t avail = 0;
    if (reading && S_ISREG(st.st_mode)) {
      off_t pos = ::lseek(entry->host.get(), 0, SEEK_CUR);
      if (pos >= 0 && st.st_size > pos) avail = static_cast<uint64_t>(st.st_size - pos);
    }
    return w.ready.push_back({userdata, Errno::success, tag, avail, 0});
  }
  w.polled.push_back({entry->host.get(), static_cast<short>(reading ? POLLIN : POLLOUT), 0});
  w.polled_events.push_back({userdata, Errno::success, tag, 0, 0});
}

// How long poll(2) may wait (-1: without end; 0: not at all). A clock-only
// wait is slept here, precisely, as poll(2) counts in milliseconds.
int poll_timeout_ms(const Waits& w) {
  if (!w.ready.empty()) return 0;
  if (w.timers.empty()) return -1;
  uint64_t now = now_ns(CLOCK_MONOTONIC);
  uint64_t first = std::min_element(w.timers.begin(), w.timers.end(), [](auto& x, auto& y) {
                     return x.deadline_mono < y.deadline_mono;
                   })->deadline_mono;
  uint64_t wait = first > now ? first - now : 0;
  if (!w.polled.empty())
    return static_cast<int>(std::min<uint64_t>((wait + 999'999) / 1'000'000, INT32_MAX));
  timespec ts{static_cast<time_t>(wait / 1'000'000'000ull),
              static_cast<long>(wait % 1'000'000'000ull)};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  return 0;
}

// Waits until something is ready; moves what is into w.ready.
Errno wait_any(Waits& w) {
  int timeout_ms = poll_timeout_ms(w);
  if (!w.polled.empty()) {
    int n;
    do n = ::poll(w.polled.data(), w.polled.size(), timeout_ms);
    while (n < 0 && errno == EINTR);
    if (n < 0) return from_host_errno(errno);
    for (size_t i = 0; i < w.polled.size(); ++i) {
      short r = w.polled[i].revents;
      if (!r) continue;
      Event ev = w.polled_events[i];
      if (r & POLLHUP) ev.flags = abi::event::fd_readwrite_hangup;
      if (r & (POLLERR | POLLNVAL)) ev.error = Errno::io;
      w.ready.push_back(ev);
    }
  }
  uint64_t now = now_ns(CLOCK_MONOTONIC);
  for (const auto& t : w.timers)
    if (t.deadline_mono <= now) w.ready.push_back({t.userdata, Errno::success, 0, 0, 0});
  return Errno::success;
}

// Writes up to `max` events in the guest's layout; returns how many.
uint32_t write_events(const std::vector<Event>& ready, uint8_t* out, uint32_t max) {
  uint32_t count = 0;
  for (const Event& ev : ready) {
    uint8_t* dst = out + count * abi::event::size;
    std::memset(dst, 0, abi::event::size);
    auto err = static_cast<uint16_t>(ev.error);
    std::memcpy(dst + abi::event::userdata, &ev.userdata, 8);
    std::memcpy(dst + abi::event::error, &err, 2);
    dst[abi::event::type] = ev.type;
    std::memcpy(dst + abi::event::nbytes, &ev.nbytes, 8);
    std::memcpy(dst + abi::event::flags, &ev.flags, 2);
    if (++count == max) break;
  }
  return count;
}

}  // namespace

Errno poll_oneoff(Env& env, Mem& mem, Ptr in, Ptr out, Size nsubscriptions, Ptr nevents_out) {
  const uint32_t nsubs = nsubscriptions;
  if (nsubs == 0) return Errno::inval;
  if (uint64_t{nsubs} * abi::subscription::size > mem.size()) return Errno::fault;
  auto subs = mem.bytes(in, nsubs * abi::subscription::size);
  if (!subs) return subs.error();
  if (uint64_t{nsubs} * abi::event::size > mem.size()) return Errno::fault;
  auto events_buf = mem.bytes(out, nsubs * abi::event::size);
  if (!events_buf) return events_buf.error();

  Waits w;
  for (uint32_t i = 0; i < nsubs; ++i) {
    const uint8_t* s = subs->data() + i * abi::subscription::size;
    uint64_t userdata;
    std::memcpy(&userdata, s + abi::subscription::userdata, 8);
    uint8_t tag = s[abi::subscription::tag];
    if (tag == abi::subscription::tag_clock)
      add_clock(w, userdata, s);
    else if (tag == abi::subscription::tag_fd_read || tag == abi::subscription::tag_fd_write)
      add_fd(w, env, userdata, tag, s);
    else
      return Errno::inval;
  }
  if (Errno e = wait_any(w); e != Errno::success) return e;
  return mem.store<uint32_t>(nevents_out, write_events(w.ready, events_buf->data(), nsubs));
}

}  // namespace shoal::wasi::calls
