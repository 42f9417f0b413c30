// Arguments, environment, clocks, randomness, poll_oneoff, proc_raise and
// sched_yield. Run with arguments "one" "two words" and the environment
// K=V, EMPTY=. Prints one "<check> <observed>" line per check.
#include "check.h"

static void args_and_environ_checks(void) {
  __wasi_size_t count, size;
  must("args_sizes_get", __wasi_args_sizes_get(&count, &size));
  report("args_sizes", "%u %u", (unsigned)count, (unsigned)size);
  char* argv[8];
  char buf[512];
  if (count > 8 || size > sizeof buf) {
    report("args", "too many");
    return;
  }
  must("args_get", __wasi_args_get((uint8_t**)argv, (uint8_t*)buf));
  // argv[0] is the module path, which the test knows; the rest are given.
  printf("args");
  for (__wasi_size_t i = 1; i < count; ++i) printf(" [%s]", argv[i]);
  putchar('\n');
  report("args_are_packed", "%s",
         argv[count - 1] + strlen(argv[count - 1]) + 1 == buf + size ? "yes" : "no");
  must("environ_sizes_get", __wasi_environ_sizes_get(&count, &size));
  report("environ_sizes", "%u %u", (unsigned)count, (unsigned)size);
  must("environ_get", __wasi_environ_get((uint8_t**)argv, (uint8_t*)buf));
  printf("environ");
  for (__wasi_size_t i = 0; i < count; ++i) printf(" [%s]", argv[i]);
  putchar('\n');
}

static void clock_checks(void) {
  __wasi_timestamp_t res;
  __wasi_errno_t e = __wasi_clock_res_get(__WASI_CLOCKID_REALTIME, &res);
  report("clock_res_realtime", "%s %s", errname(e), res >= 1 && res <= 1000000 ? "1ns..1ms" : "?");
  e = __wasi_clock_res_get(__WASI_CLOCKID_MONOTONIC, &res);
  report("clock_res_monotonic", "%s %s", errname(e), res >= 1 && res <= 1000000 ? "1ns..1ms" : "?");
  report_errno("clock_res_unknown_clock", __wasi_clock_res_get(99, &res));
  __wasi_timestamp_t a, b;
  must("monotonic", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &a));
  must("monotonic", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &b));
  report("monotonic_never_goes_back", "%s", b >= a ? "yes" : "no");
  must("realtime", __wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &a));
  // After 2020-01-01 and before 2100-01-01: a real wall clock, in nanoseconds.
  report("realtime_is_nanoseconds_since_epoch", "%s",
         a > 1577836800000000000ull && a < 4102444800000000000ull ? "yes" : "no");
  report_errno("clock_time_unknown_clock", __wasi_clock_time_get(99, 1, &a));
  report_errno("process_cputime", __wasi_clock_time_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, 1, &a));
}

static void random_checks(void) {
  uint8_t a[32] = {0}, b[32] = {0};
  must("random a", __wasi_random_get(a, sizeof a));
  must("random b", __wasi_random_get(b, sizeof b));
  int zero = 1;
  for (size_t i = 0; i < sizeof a; ++i) zero &= a[i] == 0;
  // 2^-256 odds of a false "same".
  report("random_buffers_differ", "%s %s", memcmp(a, b, sizeof a) ? "yes" : "no",
         zero ? "zero" : "nonzero");
  report_errno("random_zero_length", __wasi_random_get(a, 0));
  report_errno("random_out_of_memory", (__wasi_errno_t)raw_random_get((int32_t)0xfffffff0u, 64));
  static uint8_t big[1 << 20];
  report_errno("random_one_mebibyte", __wasi_random_get(big, sizeof big));
}

static __wasi_subscription_t clock_sub(__wasi_userdata_t id, __wasi_clockid_t clock,
                                       __wasi_timestamp_t timeout, __wasi_subclockflags_t flags) {
  __wasi_subscription_t s;
  memset(&s, 0, sizeof s);
  s.userdata = id;
  s.u.tag = __WASI_EVENTTYPE_CLOCK;
  s.u.u.clock.id = clock;
  s.u.u.clock.timeout = timeout;
  s.u.u.clock.flags = flags;
  return s;
}

static void print_events(const char* check, __wasi_errno_t e, const __wasi_event_t* ev,
                         __wasi_size_t n) {
  static const char* const types[] = {"CLOCK", "FD_READ", "FD_WRITE"};
  printf("%s %s %u", check, errname(e), (unsigned)n);
  for (__wasi_size_t i = 0; i < n && e == __WASI_ERRNO_SUCCESS; ++i)
    printf(" [%llu %s %s]", (unsigned long long)ev[i].userdata,
           ev[i].type < 3 ? types[ev[i].type] : "?", errname(ev[i].error));
  putchar('\n');
}

static void poll_checks(void) {
  __wasi_event_t ev[4];
  __wasi_size_t n = 0;
  __wasi_timestamp_t before, after;
  must("monotonic", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &before));
  __wasi_subscription_t subs[4] = {clock_sub(42, __WASI_CLOCKID_MONOTONIC, 2000000, 0)};
  __wasi_errno_t e = __wasi_poll_oneoff(subs, ev, 1, &n);
  must("monotonic", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &after));
  print_events("poll_relative_clock", e, ev, n);
  // A lower bound only, so never flaky: the call returned no earlier than
  // the deadline it was given.
  report("poll_waited_for_the_deadline", "%s", after - before >= 2000000 ? "yes" : "no");

  __wasi_timestamp_t now;
  must("realtime", __wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &now));
  subs[0] = clock_sub(7, __WASI_CLOCKID_REALTIME, now - 1000000000ull,
                      __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME);
  e = __wasi_poll_oneoff(subs, ev, 1, &n);
  print_events("poll_absolute_clock_in_the_past", e, ev, n);

  // A ready descriptor ends the wait before a far-off deadline.
  subs[0] = clock_sub(1, __WASI_CLOCKID_MONOTONIC, 3600000000000ull, 0);
  memset(&subs[1], 0, sizeof subs[1]);
  subs[1].userdata = 2;
  subs[1].u.tag = __WASI_EVENTTYPE_FD_WRITE;
  subs[1].u.u.fd_write.file_descriptor = 1;
  e = __wasi_poll_oneoff(subs, ev, 2, &n);
  print_events("poll_stdout_ready_before_deadline", e, ev, n);

  memset(&subs[0], 0, sizeof subs[0]);
  subs[0].userdata = 3;
  subs[0].u.tag = __WASI_EVENTTYPE_FD_READ;
  subs[0].u.u.fd_read.file_descriptor = 99;
  e = __wasi_poll_oneoff(subs, ev, 1, &n);
  print_events("poll_closed_fd", e, ev, n);

  subs[0] = clock_sub(4, 99, 0, 0);
  e = __wasi_poll_oneoff(subs, ev, 1, &n);
  print_events("poll_unknown_clock", e, ev, n);

  report_errno("poll_no_subscriptions", __wasi_poll_oneoff(subs, ev, 0, &n));
}

int main(void) {
  args_and_environ_checks();
  clock_checks();
  random_checks();
  poll_checks();
  report_errno("proc_raise", (__wasi_errno_t)raw_proc_raise(15));  // SIGTERM
  report_errno("sched_yield", __wasi_sched_yield());
  return 0;
}
