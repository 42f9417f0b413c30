// Where a guest's stdout and stderr bytes go.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "wasi/errno.h"

namespace shoal::wasi {

// Receives the bytes a guest writes to one of its output streams. Called on
// the thread that runs the guest, never concurrently.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  // Takes all of `data` (a sink may drop what exceeds its cap, but reports it
  // as written so that the guest goes on), or fails with the errno to report.
  virtual Errno write(std::span<const uint8_t> data) = 0;
};

// Writes straight to a host file descriptor (the `shoal exec` path), up to
// an optional cap in bytes; what exceeds the cap is dropped and counted.
class FdSink final : public OutputSink {
 public:
  explicit FdSink(int fd, uint64_t cap = UINT64_MAX) : fd_(fd), cap_(cap) {}
  Errno write(std::span<const uint8_t> data) override;
  uint64_t written() const { return written_; }
  uint64_t dropped() const { return dropped_; }

 private:
  int fd_;
  uint64_t cap_;
  uint64_t written_ = 0;
  uint64_t dropped_ = 0;
};

// Keeps the bytes in memory, up to a cap (tests, and job capture).
class BufferSink final : public OutputSink {
 public:
  explicit BufferSink(uint64_t cap = UINT64_MAX) : cap_(cap) {}
  Errno write(std::span<const uint8_t> data) override;
  const std::string& contents() const { return data_; }
  uint64_t dropped() const { return dropped_; }

 private:
  uint64_t cap_;
  std::string data_;
  uint64_t dropped_ = 0;
};

}  // namespace shoal::wasi
