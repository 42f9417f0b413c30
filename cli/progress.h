// A one-line progress display for the terminal: downloads (bytes) and
// waiting on many jobs (items). Redrawn in place with '\r', at most about
// ten times a second, and silent when the stream is not a terminal so that
// pipes and log files get no control characters.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "protocol/units.h"

namespace shoal::cli {

enum class ProgressUnit { bytes, items };

struct ProgressOptions {
  using Clock = std::chrono::steady_clock;
  ProgressUnit unit = ProgressUnit::bytes;
  int bar_width = 24;  // characters between the brackets
  // Columns the line may use, so that it never wraps (a wrapped line cannot
  // be redrawn with '\r'). 0: the terminal's width, or 80 if unknown.
  int columns = 0;
  // Whether to draw at all; nullopt: isatty(fd).
  std::optional<bool> is_tty;
  // The time source; empty: Clock::now. Tests inject one.
  std::function<Clock::time_point()> now;
};

// Draws "label  45% [##########--------------]  12.3 MiB / 27.0 MiB  1.2 MiB/s  ETA 0:13"
// on `fd` (not owned; it must stay open while the bar is used). Without a
// total: "label  12.3 MiB  1.2 MiB/s". The rate is the average since the
// first update, shown after half a second; the ETA follows from it.
//
// Not thread-safe: one thread calls update() and finish(). Write errors are
// ignored: progress is a courtesy, never a reason to fail.
class ProgressBar {
 public:
  ProgressBar(int fd, std::string label, ProgressOptions options = {});
  // Ends the line if one is drawn (as finish() does), so that what is
  // printed next starts on a line of its own.
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Records progress; redraws if the last draw was 100 ms ago or more (the
  // first update always draws). `done` may exceed `total`; the bar then
  // shows 100%.
  void update(uint64_t done, std::optional<uint64_t> total = std::nullopt);

  // Draws the latest state once more and ends the line with '\n'. Prints
  // nothing if nothing was ever drawn. Later calls, and updates after it,
  // do nothing.
  void finish();

  // Changes the label; shown at the next redraw (e.g. "jobs (1 failed)").
  void set_label(std::string label) { label_ = std::move(label); }

  bool is_tty() const { return tty_; }

  // The text of one line (no '\r', no padding) for the given state; the
  // rate is unknown before half a second has passed.
  static std::string render(const std::string& label, uint64_t done, std::optional<uint64_t> total,
                            std::chrono::nanoseconds elapsed, uint64_t done_at_start,
                            ProgressUnit unit, int bar_width);

 private:
  void draw();
  void write_all(const std::string& s);

  int fd_;
  std::string label_;
  ProgressOptions options_;
  bool tty_;
  int columns_;
  bool finished_ = false;
  bool drawn_ = false;  // a line is on the screen, not yet ended
  uint64_t done_ = 0;
  std::optional<uint64_t> total_;
  std::optional<ProgressOptions::Clock::time_point> start_;
  uint64_t done_at_start_ = 0;
  ProgressOptions::Clock::time_point last_draw_{};
  size_t last_length_ = 0;  // of the line on screen, to blank what a shorter one leaves
};

// "512 B", "1.0 KiB", "12.3 MiB", "2.0 GiB" (protocol/units.h)
using units::format_bytes;

// "0:07", "12:34", "1:02:03"
std::string format_eta(std::chrono::seconds s);

}  // namespace shoal::cli
