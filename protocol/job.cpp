#include "protocol/job.h"

#include <sys/random.h>

#include <chrono>
#include <cstdio>

namespace shoal::jobs {

std::string_view state_name(JobState s) {
  switch (s) {
    case JobState::pending:
      return "Pending";
    case JobState::queued:
      return "Queued";
    case JobState::running:
      return "Running";
    case JobState::completed:
      return "Completed";
    case JobState::failed:
      return "Failed";
    case JobState::stopped:
      return "Stopped";
  }
  return "Unknown";
}

std::optional<JobState> parse_state(std::string_view name) {
  for (auto s : {JobState::pending, JobState::queued, JobState::running, JobState::completed,
                 JobState::failed, JobState::stopped})
    if (state_name(s) == name) return s;
  return std::nullopt;
}

std::string id_prefix(std::string_view typed) {
  if (typed.empty() || typed.front() == 'j') return std::string(typed);
  return "j-" + std::string(typed);
}

std::string new_job_id() {
  uint8_t b[16];
  size_t got = 0;
  while (got < sizeof b) {
    ssize_t n = ::getrandom(b + got, sizeof b - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  char out[40];
  std::snprintf(out, sizeof out,
                "j-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                b[14], b[15]);
  return out;
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace shoal::jobs
