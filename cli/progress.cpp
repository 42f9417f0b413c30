#include "cli/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>

namespace shoal::cli {

namespace {

using namespace std::chrono_literals;

std::string format_rate(double per_second, ProgressUnit unit) {
  char buf[48];
  if (unit == ProgressUnit::bytes) return format_bytes(static_cast<uint64_t>(per_second)) + "/s";
  std::snprintf(buf, sizeof buf, "%.1f/s", per_second);
  return buf;
}

std::string format_amount(uint64_t n, ProgressUnit unit) {
  return unit == ProgressUnit::bytes ? format_bytes(n) : std::to_string(n);
}

int terminal_columns(int fd) {
  struct winsize ws {};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

// Cuts `line` to `max` bytes without splitting a UTF-8 sequence.
void truncate_to(std::string& line, size_t max) {
  if (line.size() <= max) return;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(line[n]) & 0xc0) == 0x80) --n;
  line.resize(n);
}

}  // namespace

std::string format_eta(std::chrono::seconds s) {
  auto total = s.count() < 0 ? 0 : s.count();
  char buf[32];
  if (total >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(total / 3600),
                  static_cast<long long>(total / 60 % 60), static_cast<long long>(total % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  return buf;
}

std::string ProgressBar::render(const std::string& label, uint64_t done,
                                std::optional<uint64_t> total, std::chrono::nanoseconds elapsed,
                                uint64_t done_at_start, ProgressUnit unit, int bar_width) {
  std::string line = label;
  if (total) {
    // done * 100 could overflow near 2^64; long double keeps the ratio.
    long double ratio =
        *total == 0
            ? 1.0L
            : std::min(1.0L, static_cast<long double>(done) / static_cast<long double>(*total));
    int percent = static_cast<int>(ratio * 100);
    int filled = static_cast<int>(ratio * bar_width);
    char pct[8];
    std::snprintf(pct, sizeof pct, "%3d%%", percent);
    line += "  ";
    line += pct;
    line += " [";
    line.append(static_cast<size_t>(filled), '#');
    line.append(static_cast<size_t>(bar_width - filled), '-');
    line += "]  ";
    line += format_amount(done, unit) + " / " + format_amount(*total, unit);
  } else {
    line += "  " + format_amount(done, unit);
  }
  if (elapsed >= 500ms && done > done_at_start) {
    double seconds = std::chrono::duration<double>(elapsed).count();
    double rate = static_cast<double>(done - done_at_start) / seconds;
    line += "  " + format_rate(rate, unit);
    if (total && done < *total && rate > 0) {
      auto left = static_cast<double>(*total - done) / rate;
      line += "  ETA " + format_eta(std::chrono::seconds(static_cast<int64_t>(left + 0.5)));
    }
  }
  return line;
}

ProgressBar::ProgressBar(int fd, std::string label, ProgressOptions options)
    : fd_(fd), label_(std::move(label)), options_(std::move(options)) {
  tty_ = options_.is_tty ? *options_.is_tty : ::isatty(fd_) == 1;
  columns_ = options_.columns > 0 ? options_.columns : (tty_ ? terminal_columns(fd_) : 80);
  if (!options_.now) options_.now = [] { return ProgressOptions::Clock::now(); };
}

ProgressBar::~ProgressBar() {
  if (drawn_ && !finished_) write_all("\n");
}

void ProgressBar::update(uint64_t done, std::optional<uint64_t> total) {
  if (finished_) return;
  auto now = options_.now();
  if (!start_) {
    start_ = now;
    done_at_start_ = done;
  }
  done_ = done;
  total_ = total;
  if (!tty_) return;
  if (drawn_ && now - last_draw_ < 100ms) return;
  last_draw_ = now;
  draw();
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (!tty_ || !start_) return;
  draw();
  write_all("\n");
  drawn_ = false;
}

void ProgressBar::draw() {
  auto elapsed = options_.now() - *start_;
  std::string line =
      render(label_, done_, total_, elapsed, done_at_start_, options_.unit, options_.bar_width);
  // One column short of the width: writing into the last column makes some
  // terminals wrap at once.
  truncate_to(line, static_cast<size_t>(std::max(1, columns_ - 1)));
  size_t length = line.size();
  if (length < last_length_) line.append(last_length_ - length, ' ');
  last_length_ = length;
  write_all("\r" + line);
  drawn_ = true;
}

void ProgressBar::write_all(const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t w = ::write(fd_, s.data() + off, s.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    off += static_cast<size_t>(w);
  }
}

}  // namespace shoal::cli
