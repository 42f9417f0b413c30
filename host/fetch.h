// Fetching one http(s) URL input into a file, with libcurl: timeouts, a size
// cap, retries with backoff, redirects, progress, cancellation and
// conditional requests. The broker stages URL inputs with this (through
// UrlCache) while the job is Pending.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>

namespace shoal::host {

// Called with the bytes of the body written so far in the current attempt
// and the body's size when the server announced it. A retry starts again
// from zero.
using FetchProgressFn = std::function<void(uint64_t done, std::optional<uint64_t> total)>;

struct FetchOptions {
  // Time to establish the connection (TCP and TLS), per attempt.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(30)};
  // Time for a whole attempt, connection and body included; zero means none.
  // The low-speed abort below is what catches a stalled server, so this is
  // generous: a 1 GiB input on a slow link takes a while.
  std::chrono::milliseconds timeout{std::chrono::hours(1)};
  // An attempt that moves fewer than low_speed_bytes per second for
  // low_speed_time is aborted as timed out. Zero bytes disables it.
  uint64_t low_speed_bytes = 1024;
  std::chrono::seconds low_speed_time{30};
  // The largest body accepted. A Content-Length above it fails before any
  // byte is written; a body that grows past it fails as soon as it does.
  uint64_t max_bytes = uint64_t{1} << 30;
  // Further attempts after a retryable failure (see FetchError::retryable),
  // waiting backoff, 2 * backoff, 4 * backoff, ... before each.
  int retries = 3;
  std::chrono::milliseconds backoff{250};
  // Redirects followed (301, 302, 303, 307, 308), to http or https only.
  long max_redirects = 10;
  // Called at most about ten times a second, and once more when the body is
  // complete, on the calling thread. May be empty.
  FetchProgressFn progress;
  // When set and it becomes true, the fetch stops within about a second
  // (sooner while bytes are flowing) and fails with `cancelled`. Not owned;
  // it must outlive the call.
  const std::atomic<bool>* cancel = nullptr;
  // Validators of a copy the caller already has. When either is set the
  // request is conditional (If-None-Match, If-Modified-Since), and a 304
  // answer means that copy is still current (FetchResult::not_modified).
  std::string if_none_match;
  std::string if_modified_since;
};

struct FetchResult {
  // The destination path. When not_modified, fetch wrote nothing and the
  // caller's copy stands; size and sha256 are then empty (0 and "") because
  // no body was read.
  std::string path;
  uint64_t size = 0;
  std::string sha256;  // lower-case hex of the body
  long http_status = 0;
  std::string etag;           // as the server sent it, quotes included; may be empty
  std::string last_modified;  // as the server sent it; may be empty
  bool not_modified = false;
  int attempts = 0;
};

struct FetchError {
  enum class Kind {
    bad_url,    // not an http(s) URL, or one curl cannot parse
    http,       // the server answered with a status that is not 2xx (or 304 when asked)
    connect,    // the host could not be resolved or reached
    timeout,    // a connect, overall or low-speed timeout
    transfer,   // the connection broke or the response was malformed
    too_large,  // over FetchOptions::max_bytes
    cancelled,  // FetchOptions::cancel became true
    io,         // writing the destination failed (disk full, permissions)
    redirects,  // more than FetchOptions::max_redirects
  };
  Kind kind;
  // Names the URL (credentials removed) and the cause, e.g.
  // "https://example.com/data.txt: HTTP 404 Not Found" or
  // "http://127.0.0.1:9/x: could not connect (...) after 4 attempts".
  std::string message;
  long http_status = 0;  // the final status when kind == http, else 0
  // Whether another attempt could succeed: connection failures, timeouts,
  // broken transfers, HTTP 5xx and 429. fetch_url has already retried these
  // FetchOptions::retries times; callers use it to decide whether to try
  // again later.
  bool retryable = false;
};

// Fetches `url` (http or https only) into the file `dest`. The body goes to a
// temporary file in dest's directory, hashed while it streams, and is renamed
// onto `dest` only when complete, so `dest` is never a partial body: after a
// failure dest is as it was before the call and no temporary file remains.
// dest's directory must exist; a new dest is created with mode 0600.
//
// Safe to call from several threads at once (each call has its own curl
// handle); calls that share a `dest` race on which complete body ends up
// there. Blocks the calling thread for the whole fetch, retries and backoff
// included.
std::expected<FetchResult, FetchError> fetch_url(const std::string& url, const std::string& dest,
                                                 const FetchOptions& options = {});

// The body of `url` in memory, fetched as fetch_url does through a private
// temporary file under $TMPDIR (or /tmp), which is removed before this
// returns. For modules and other bodies that are read whole anyway.
std::expected<std::string, FetchError> fetch_bytes(const std::string& url,
                                                   const FetchOptions& options = {});

// `url` with any user:password@ replaced by ***@, for messages and logs.
std::string redact_url(const std::string& url);

}  // namespace shoal::host
