// The terminal progress bar: the line it renders, when it redraws, and that
// it stays silent off a terminal. Output goes to a pipe; time is a fake
// clock the tests move by hand.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "cli/progress.h"

using namespace std::chrono_literals;
using shoal::cli::format_bytes;
using shoal::cli::format_eta;
using shoal::cli::ProgressBar;
using shoal::cli::ProgressOptions;
using shoal::cli::ProgressUnit;
using Clock = ProgressOptions::Clock;

namespace {

// A pipe whose read end collects everything the bar wrote.
class Pipe {
 public:
  Pipe() { BOOST_TEST_REQUIRE(::pipe(fds_) == 0); }
  ~Pipe() {
    if (fds_[0] >= 0) ::close(fds_[0]);
    if (fds_[1] >= 0) ::close(fds_[1]);
  }
  int write_fd() const { return fds_[1]; }
  // Closes the write end and reads everything.
  std::string drain() {
    ::close(fds_[1]);
    fds_[1] = -1;
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds_[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }

 private:
  int fds_[2] = {-1, -1};
};

struct FakeClock {
  Clock::time_point t{std::chrono::seconds(1000)};
  std::function<Clock::time_point()> fn() {
    return [this] { return t; };
  }
};

ProgressOptions options(FakeClock& clock, bool tty, ProgressUnit unit = ProgressUnit::bytes) {
  ProgressOptions o;
  o.unit = unit;
  o.bar_width = 10;
  o.columns = 200;
  o.is_tty = tty;
  o.now = clock.fn();
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(sizes_are_human_and_binary) {
  BOOST_TEST(format_bytes(0) == "0 B");
  BOOST_TEST(format_bytes(1023) == "1023 B");
  BOOST_TEST(format_bytes(1024) == "1.0 KiB");
  BOOST_TEST(format_bytes(12897485) == "12.3 MiB");
  BOOST_TEST(format_bytes(1048575) == "1.0 MiB");  // not "1024.0 KiB"
  BOOST_TEST(format_bytes(uint64_t{1} << 30) == "1.0 GiB");
  BOOST_TEST(format_bytes(uint64_t{5} << 40) == "5.0 TiB");
}

BOOST_AUTO_TEST_CASE(etas_are_minutes_and_seconds_or_hours) {
  BOOST_TEST(format_eta(7s) == "0:07");
  BOOST_TEST(format_eta(754s) == "12:34");
  BOOST_TEST(format_eta(3723s) == "1:02:03");
  BOOST_TEST(format_eta(-5s) == "0:00");
}

BOOST_AUTO_TEST_CASE(a_line_shows_percent_bar_sizes_rate_and_eta) {
  BOOST_TEST(
      ProgressBar::render("in.txt", 512 * 1024, 1024 * 1024, 1s, 0, ProgressUnit::bytes, 10) ==
      "in.txt   50% [#####-----]  512.0 KiB / 1.0 MiB  512.0 KiB/s  ETA 0:01");
  BOOST_TEST(ProgressBar::render("jobs", 25, 100, 5s, 0, ProgressUnit::items, 8) ==
             "jobs   25% [##------]  25 / 100  5.0/s  ETA 0:15");
}

BOOST_AUTO_TEST_CASE(without_a_total_there_is_no_bar_and_no_eta) {
  BOOST_TEST(ProgressBar::render("x", 3 * 1024 * 1024, std::nullopt, 2s, 0, ProgressUnit::bytes,
                                 10) == "x  3.0 MiB  1.5 MiB/s");
}

BOOST_AUTO_TEST_CASE(the_rate_waits_for_half_a_second_and_counts_from_the_first_update) {
  BOOST_TEST(ProgressBar::render("x", 10, 100, 100ms, 0, ProgressUnit::items, 4) ==
             "x   10% [----]  10 / 100");
  BOOST_TEST(ProgressBar::render("x", 60, 100, 2s, 40, ProgressUnit::items, 4) ==
             "x   60% [##--]  60 / 100  10.0/s  ETA 0:04");
}

BOOST_AUTO_TEST_CASE(done_past_the_total_shows_full_and_no_eta) {
  BOOST_TEST(ProgressBar::render("x", 150, 100, 1s, 0, ProgressUnit::items, 4) ==
             "x  100% [####]  150 / 100  150.0/s");
  BOOST_TEST(ProgressBar::render("x", 0, 0, 1s, 0, ProgressUnit::items, 4) ==
             "x  100% [####]  0 / 0");
}

BOOST_AUTO_TEST_CASE(off_a_terminal_nothing_is_written) {
  Pipe pipe;
  FakeClock clock;
  {
    ProgressBar bar(pipe.write_fd(), "x", options(clock, false));
    BOOST_TEST(!bar.is_tty());
    bar.update(10, 100);
    clock.t += 1s;
    bar.update(100, 100);
    bar.finish();
  }
  BOOST_TEST(pipe.drain() == "");
}

BOOST_AUTO_TEST_CASE(a_pipe_is_not_a_terminal_by_default) {
  Pipe pipe;
  {
    ProgressBar bar(pipe.write_fd(), "x");
    BOOST_TEST(!bar.is_tty());
    bar.update(1, 2);
    bar.finish();
  }
  BOOST_TEST(pipe.drain() == "");
}

BOOST_AUTO_TEST_CASE(on_a_terminal_it_redraws_at_most_every_100_ms_and_finish_ends_the_line) {
  Pipe pipe;
  FakeClock clock;
  {
    ProgressBar bar(pipe.write_fd(), "jobs", options(clock, true, ProgressUnit::items));
    bar.update(0, 4);  // the first update draws
    clock.t += 50ms;
    bar.update(1, 4);  // too soon: not drawn
    clock.t += 50ms;
    bar.update(2, 4);  // 100 ms after the first draw
    clock.t += 900ms;
    bar.update(3, 4);
    bar.finish();      // draws the latest state even though no time passed
    bar.finish();      // once only
    bar.update(4, 4);  // after finish: ignored
  }
  BOOST_TEST(pipe.drain() ==
             "\rjobs    0% [----------]  0 / 4"
             "\rjobs   50% [#####-----]  2 / 4"
             "\rjobs   75% [#######---]  3 / 4  3.0/s  ETA 0:00"
             "\rjobs   75% [#######---]  3 / 4  3.0/s  ETA 0:00\n");
}

BOOST_AUTO_TEST_CASE(a_shorter_line_blanks_what_the_longer_one_left) {
  Pipe pipe;
  FakeClock clock;
  {
    ProgressBar bar(pipe.write_fd(), "x", options(clock, true, ProgressUnit::items));
    bar.update(100, 1000);
    clock.t += 100ms;
    bar.update(5);
    bar.finish();
  }
  std::string first = "x   10% [#---------]  100 / 1000";
  std::string second = "x  5";
  BOOST_TEST(pipe.drain() == "\r" + first + "\r" + second + std::string(first.size() - 4, ' ') +
                                 "\r" + second + "\n");
}

BOOST_AUTO_TEST_CASE(a_line_never_exceeds_the_width) {
  Pipe pipe;
  FakeClock clock;
  {
    auto o = options(clock, true, ProgressUnit::items);
    o.columns = 12;
    ProgressBar bar(pipe.write_fd(), "a-long-label", o);
    bar.update(1, 2);
    bar.finish();
  }
  BOOST_TEST(pipe.drain() == "\ra-long-labe\ra-long-labe\n");
}

BOOST_AUTO_TEST_CASE(destroying_a_drawn_bar_ends_its_line) {
  Pipe pipe;
  FakeClock clock;
  {
    ProgressBar bar(pipe.write_fd(), "x", options(clock, true, ProgressUnit::items));
    bar.update(1, 2);
  }
  BOOST_TEST(pipe.drain() == "\rx   50% [#####-----]  1 / 2\n");
}

BOOST_AUTO_TEST_CASE(finish_without_any_update_prints_nothing) {
  Pipe pipe;
  FakeClock clock;
  {
    ProgressBar bar(pipe.write_fd(), "x", options(clock, true));
    bar.finish();
  }
  BOOST_TEST(pipe.drain() == "");
}

BOOST_AUTO_TEST_CASE(a_new_label_shows_at_the_next_draw) {
  Pipe pipe;
  FakeClock clock;
  {
    ProgressBar bar(pipe.write_fd(), "jobs", options(clock, true, ProgressUnit::items));
    bar.update(0, 2);
    bar.set_label("jobs (1 failed)");
    clock.t += 100ms;
    bar.update(1, 2);
  }
  BOOST_TEST(pipe.drain() ==
             "\rjobs    0% [----------]  0 / 2"
             "\rjobs (1 failed)   50% [#####-----]  1 / 2\n");
}
