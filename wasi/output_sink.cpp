#include "wasi/output_sink.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace shoal::wasi {

Errno FdSink::write(std::span<const uint8_t> data) {
  uint64_t room = cap_ - std::min(cap_, written_);
  size_t keep = static_cast<size_t>(std::min<uint64_t>(room, data.size()));
  dropped_ += data.size() - keep;
  size_t done = 0;
  while (done < keep) {
    ssize_t n = ::write(fd_, data.data() + done, keep - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return from_host_errno(errno);
    }
    done += static_cast<size_t>(n);
  }
  written_ += keep;
  return Errno::success;
}

Errno BufferSink::write(std::span<const uint8_t> data) {
  uint64_t room = cap_ - std::min<uint64_t>(cap_, data_.size());
  size_t keep = static_cast<size_t>(std::min<uint64_t>(room, data.size()));
  dropped_ += data.size() - keep;
  data_.append(reinterpret_cast<const char*>(data.data()), keep);
  return Errno::success;
}

}  // namespace shoal::wasi
