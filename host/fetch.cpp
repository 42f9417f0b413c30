#include "host/fetch.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>

#include "host/curl_library.h"
#include "protocol/sha256.h"
#include "protocol/units.h"
#include "shoal_config.h"

namespace shoal::host {
namespace {

using Clock = std::chrono::steady_clock;
using Kind = FetchError::Kind;

// libcurl's functions; called only once fetch_url has loaded it.
const CurlLibrary& libcurl() {
  return **curl_library();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// "30 s", "250 ms", "1.5 s"
std::string format_duration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  if (ms < 1000) return std::to_string(ms) + " ms";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

// Used when the server sends no reason phrase (HTTP/2 never does) or an
// unprintable one.
const char* standard_reason(long status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 410:
      return "Gone";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

bool is_http_url(std::string_view url) {
  auto l = lower(url.substr(0, 8));
  return l.starts_with("http://") || l.starts_with("https://");
}

// The temporary file a body streams into, next to its destination. Removed
// by the destructor unless commit() renamed it onto the destination.
class TempFile {
 public:
  static std::expected<TempFile, std::string> create(const std::string& dest) {
    TempFile t;
    t.path_ = dest + ".part-XXXXXX";
    t.fd_ = ::mkostemp(t.path_.data(), O_CLOEXEC);
    if (t.fd_ < 0) return std::unexpected(t.path_ + ": " + std::strerror(errno));
    return t;
  }
  TempFile(TempFile&& o) noexcept : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)) {}
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(path_.c_str());
    }
  }

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  // Empties the file for another attempt.
  bool reset() { return ::ftruncate(fd_, 0) == 0 && ::lseek(fd_, 0, SEEK_SET) == 0; }

  // fsync, then rename onto dest: the destination only ever holds a complete
  // body that is on disk.
  std::expected<void, std::string> commit(const std::string& dest) {
    if (::fsync(fd_) != 0) return std::unexpected(path_ + ": " + std::strerror(errno));
    if (::rename(path_.c_str(), dest.c_str()) != 0)
      return std::unexpected("renaming onto " + dest + ": " + std::strerror(errno));
    ::close(std::exchange(fd_, -1));
    return {};
  }

 private:
  TempFile() = default;
  std::string path_;
  int fd_ = -1;
};

struct CurlDeleter {
  void operator()(CURL* c) const { libcurl().easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { libcurl().slist_free_all(l); }
};

// The state of one attempt, shared with curl's callbacks.
struct Attempt {
  Attempt(const FetchOptions& o, int out, Sha256* hash) : options(o), fd(out), sha(hash) {}
  const FetchOptions& options;
  int fd;
  Sha256* sha;
  uint64_t written = 0;
  // The response being received. Reset at each status line, so after
  // redirects it describes the last response.
  long status = 0;
  std::string reason;
  std::string etag;
  std::string last_modified;
  std::optional<uint64_t> content_length;
  // Set by a callback that stopped the transfer, with its reason.
  std::optional<Kind> abort_kind;
  std::string abort_detail;
  Clock::time_point last_progress{};

  bool body_wanted() const { return status >= 200 && status < 300; }
  bool cancelled() const { return options.cancel && options.cancel->load(); }
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto& a = *static_cast<Attempt*>(user);
  size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    a.status = 0;
    a.reason.clear();
    a.etag.clear();
    a.last_modified.clear();
    a.content_length.reset();
    // "HTTP/1.1 404 Not Found", "HTTP/2 404"
    auto sp = line.find(' ');
    if (sp != std::string_view::npos) {
      auto rest = line.substr(sp + 1);
      long code = 0;
      size_t i = 0;
      while (i < rest.size() && i < 3 && rest[i] >= '0' && rest[i] <= '9')
        code = code * 10 + (rest[i++] - '0');
      a.status = code;
      auto reason = trim(rest.substr(i));
      bool printable = reason.size() <= 64;
      for (char c : reason) printable = printable && c >= 0x20 && c < 0x7f;
      if (printable) a.reason = reason;
    }
    return n;
  }
  if (trim(line).empty()) {
    // End of this response's headers: refuse an announced body over the cap
    // before a byte of it arrives.
    if (a.body_wanted() && a.content_length && *a.content_length > a.options.max_bytes) {
      a.abort_kind = Kind::too_large;
      a.abort_detail = "the server announced " + units::format_bytes(*a.content_length);
      return 0;
    }
    return n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  auto name = lower(trim(line.substr(0, colon)));
  auto value = trim(line.substr(colon + 1));
  if (name == "etag") {
    a.etag = value;
  } else if (name == "last-modified") {
    a.last_modified = value;
  } else if (name == "content-length") {
    uint64_t v = 0;
    bool ok = !value.empty() && value.size() <= 19;
    for (char c : value) {
      ok = ok && c >= '0' && c <= '9';
      if (ok) v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (ok) a.content_length = v;
  }
  return n;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto& a = *static_cast<Attempt*>(user);
  size_t n = size * count;
  // An error page is not the input; stopping here saves reading it. The
  // status decides the outcome after curl returns.
  if (!a.body_wanted()) return 0;
  if (a.cancelled()) {
    a.abort_kind = Kind::cancelled;
    return 0;
  }
  if (n > a.options.max_bytes - a.written || a.written > a.options.max_bytes) {
    a.abort_kind = Kind::too_large;
    return 0;
  }
  for (size_t off = 0; off < n;) {
    ssize_t w = ::write(a.fd, data + off, n - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      a.abort_kind = Kind::io;
      a.abort_detail = std::strerror(errno);
      return 0;
    }
    off += static_cast<size_t>(w);
  }
  a.sha->update({data, n});
  a.written += n;
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto& a = *static_cast<Attempt*>(user);
  if (a.cancelled()) {
    a.abort_kind = Kind::cancelled;
    return 1;
  }
  if (a.options.progress) {
    auto now = Clock::now();
    if (now - a.last_progress >= std::chrono::milliseconds(100)) {
      a.last_progress = now;
      a.options.progress(a.written, a.body_wanted() ? a.content_length : std::nullopt);
    }
  }
  return 0;
}

FetchError error(Kind kind, std::string cause, bool retryable, long status = 0) {
  return FetchError{kind, std::move(cause), status, retryable};
}

// Turns curl's failure into a cause; the URL is prefixed by the caller.
FetchError curl_failure(CURLcode code, const char* errbuf, CURL* curl,
                        const FetchOptions& options) {
  std::string detail = errbuf[0] ? errbuf : libcurl().easy_strerror(code);
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return error(Kind::bad_url, "not a URL shoal can fetch (" + detail + ")", false);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return error(Kind::connect, "could not resolve the host (" + detail + ")", true);
    case CURLE_COULDNT_CONNECT:
      return error(Kind::connect, "could not connect (" + detail + ")", true);
    case CURLE_OPERATION_TIMEDOUT: {
      // One curl code covers three timeouts; the timings tell them apart.
      curl_off_t connected = 0, total = 0;
      libcurl().easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connected);
      libcurl().easy_getinfo(curl, CURLINFO_TOTAL_TIME_T, &total);
      if (connected == 0)
        return error(Kind::timeout,
                     "could not connect within " + format_duration(options.connect_timeout), true);
      auto elapsed = std::chrono::microseconds(total);
      bool overall =
          options.timeout.count() > 0 && elapsed + std::chrono::milliseconds(50) >= options.timeout;
      if (overall || options.low_speed_bytes == 0)
        return error(Kind::timeout, "timed out after " + format_duration(options.timeout), true);
      return error(Kind::timeout,
                   "timed out: less than " + units::format_bytes(options.low_speed_bytes) +
                       "/s for " + format_duration(options.low_speed_time),
                   true);
    }
    case CURLE_TOO_MANY_REDIRECTS:
      return error(Kind::redirects,
                   "more than " + std::to_string(options.max_redirects) + " redirects", false);
    case CURLE_FILESIZE_EXCEEDED:
      return error(Kind::too_large,
                   "larger than the " + units::format_bytes(options.max_bytes) + " input limit",
                   false);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
      return error(Kind::connect, "TLS certificate not accepted (" + detail + ")", false);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return error(Kind::transfer, "transfer failed (" + detail + ")", true);
    default:
      return error(Kind::transfer, "transfer failed (" + detail + ")", false);
  }
}

// The conditional request's headers (none when the options name no
// validator).
std::unique_ptr<curl_slist, SlistDeleter> request_headers(const FetchOptions& options) {
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add = [&](const std::string& h) {
    headers.reset(libcurl().slist_append(headers.release(), h.c_str()));
  };
  if (!options.if_none_match.empty()) add("If-None-Match: " + options.if_none_match);
  if (!options.if_modified_since.empty()) add("If-Modified-Since: " + options.if_modified_since);
  return headers;
}

// Sets every option of one transfer of `url`, whose callbacks write to `a`.
void configure_transfer(CURL* c, const std::string& url, Attempt& a, curl_slist* headers,
                        char* errbuf, const FetchOptions& options) {
  const CurlLibrary& curl_lib = libcurl();
  curl_lib.easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_lib.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_lib.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_lib.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_lib.easy_setopt(c, CURLOPT_MAXREDIRS, options.max_redirects);
  curl_lib.easy_setopt(c, CURLOPT_USERAGENT, "shoal/" SHOAL_VERSION);
  // No signals: fetches run on broker threads, and Debian's libcurl resolves
  // names on its own thread, so timeouts still apply to DNS.
  curl_lib.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_lib.easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_lib.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                       static_cast<long>(options.connect_timeout.count()));
  curl_lib.easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  if (options.low_speed_bytes > 0) {
    curl_lib.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(options.low_speed_bytes));
    curl_lib.easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                         static_cast<long>(options.low_speed_time.count()));
  }
  curl_lib.easy_setopt(c, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  curl_lib.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_lib.easy_setopt(c, CURLOPT_HEADERDATA, &a);
  curl_lib.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_lib.easy_setopt(c, CURLOPT_WRITEDATA, &a);
  curl_lib.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_lib.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_lib.easy_setopt(c, CURLOPT_XFERINFODATA, &a);
  if (headers) curl_lib.easy_setopt(c, CURLOPT_HTTPHEADER, headers);
}

// Why our own callbacks stopped the transfer (a.abort_kind is set).
FetchError abort_error(const Attempt& a, const std::string& tmp_path, const FetchOptions& options) {
  switch (*a.abort_kind) {
    case Kind::too_large: {
      std::string cause =
          "larger than the " + units::format_bytes(options.max_bytes) + " input limit";
      if (!a.abort_detail.empty()) cause += " (" + a.abort_detail + ")";
      return error(Kind::too_large, cause, false);
    }
    case Kind::cancelled:
      return error(Kind::cancelled, "cancelled", false);
    default:
      return error(Kind::io, "writing " + tmp_path + ": " + a.abort_detail, false);
  }
}

// An HTTP status that is no success, as a retryable (5xx, 429) or final
// error, with the server's reason phrase when it gave one.
FetchError http_error(long status, const Attempt& a) {
  std::string reason = a.status == status && !a.reason.empty() ? a.reason : standard_reason(status);
  std::string cause = "HTTP " + std::to_string(status);
  if (!reason.empty()) cause += " " + reason;
  return error(Kind::http, cause, status >= 500 || status == 429, status);
}

FetchResult result_of(const std::string& dest, long status, const Attempt& a) {
  FetchResult r;
  r.path = dest;
  r.http_status = status;
  r.etag = a.etag;
  r.last_modified = a.last_modified;
  return r;
}

std::expected<FetchResult, FetchError> attempt_once(const std::string& url, const std::string& dest,
                                                    TempFile& tmp, Sha256& sha,
                                                    const FetchOptions& options) {
  if (!tmp.reset())
    return std::unexpected(
        error(Kind::io, "writing " + tmp.path() + ": " + std::strerror(errno), false));
  sha = Sha256();
  std::unique_ptr<CURL, CurlDeleter> curl(libcurl().easy_init());
  if (!curl) return std::unexpected(error(Kind::transfer, "libcurl could not start", false));
  CURL* c = curl.get();
  Attempt a{options, tmp.fd(), &sha};
  char errbuf[CURL_ERROR_SIZE] = {};
  auto headers = request_headers(options);
  configure_transfer(c, url, a, headers.get(), errbuf, options);

  CURLcode code = libcurl().easy_perform(c);
  if (a.abort_kind) return std::unexpected(abort_error(a, tmp.path(), options));
  long status = 0;
  libcurl().easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  // A status is the best account of the failure even when curl also failed
  // (our write callback stops error bodies).
  bool conditional = !options.if_none_match.empty() || !options.if_modified_since.empty();
  if (status == 304 && conditional && code == CURLE_OK) {
    FetchResult r = result_of(dest, status, a);
    if (r.etag.empty()) r.etag = options.if_none_match;
    if (r.last_modified.empty()) r.last_modified = options.if_modified_since;
    r.not_modified = true;
    return r;
  }
  if (status != 0 && (status < 200 || status >= 300) &&
      (code == CURLE_OK || code == CURLE_WRITE_ERROR))
    return std::unexpected(http_error(status, a));
  if (code != CURLE_OK) return std::unexpected(curl_failure(code, errbuf, c, options));

  if (auto committed = tmp.commit(dest); !committed)
    return std::unexpected(error(Kind::io, committed.error(), false));
  if (options.progress) options.progress(a.written, a.written);
  FetchResult r = result_of(dest, status, a);
  r.size = a.written;
  r.sha256 = sha.hex();
  return r;
}

// Waits before the next attempt, in slices so that cancellation is prompt.
// Returns false when cancelled.
bool back_off(std::chrono::milliseconds wait, const std::atomic<bool>* cancel) {
  auto until = Clock::now() + wait;
  while (Clock::now() < until) {
    if (cancel && cancel->load()) return false;
    auto left = until - Clock::now();
    std::this_thread::sleep_for(std::min<Clock::duration>(left, std::chrono::milliseconds(20)));
  }
  return !(cancel && cancel->load());
}

}  // namespace

std::string redact_url(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return url;
  auto start = scheme_end + 3;
  auto end = url.find_first_of("/?#", start);
  if (end == std::string::npos) end = url.size();
  auto at = url.rfind('@', end == 0 ? 0 : end - 1);
  if (at == std::string::npos || at < start) return url;
  return url.substr(0, start) + "***" + url.substr(at);
}

std::expected<FetchResult, FetchError> fetch_url(const std::string& url, const std::string& dest,
                                                 const FetchOptions& options) {
  std::string shown = redact_url(url);
  auto fail = [&](FetchError e) {
    e.message = shown + ": " + e.message;
    return std::unexpected(std::move(e));
  };
  if (!is_http_url(url)) return fail(error(Kind::bad_url, "not an http or https URL", false));
  if (auto lib = curl_library(); !lib) return fail(error(Kind::transfer, lib.error(), false));
  if (options.cancel && options.cancel->load())
    return fail(error(Kind::cancelled, "cancelled", false));

  auto tmp = TempFile::create(dest);
  if (!tmp) return fail(error(Kind::io, "cannot create " + tmp.error(), false));
  Sha256 sha;

  auto wait = options.backoff;
  for (int attempt = 1;; ++attempt) {
    auto result = attempt_once(url, dest, *tmp, sha, options);
    if (result) {
      result->attempts = attempt;
      return result;
    }
    if (!result.error().retryable || attempt > options.retries) {
      if (attempt > 1) result.error().message += " after " + std::to_string(attempt) + " attempts";
      return fail(std::move(result.error()));
    }
    if (!back_off(wait, options.cancel)) return fail(error(Kind::cancelled, "cancelled", false));
    wait = std::min<std::chrono::milliseconds>(wait * 2, std::chrono::seconds(30));
  }
}

std::expected<std::string, FetchError> fetch_bytes(const std::string& url,
                                                   const FetchOptions& options) {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string path = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/shoal-fetch-XXXXXX";
  int fd = ::mkstemp(path.data());
  if (fd < 0)
    return std::unexpected(error(Kind::io,
                                 redact_url(url) + ": cannot create a temporary file in " +
                                     path.substr(0, path.rfind('/')) + ": " + std::strerror(errno),
                                 false));
  std::string bytes;
  char buf[1 << 16];
  auto got = fetch_url(url, path, options);
  int in = got ? ::open(path.c_str(), O_RDONLY | O_CLOEXEC) : -1;
  ssize_t n = 0;
  while (in >= 0 && (n = ::read(in, buf, sizeof buf)) > 0)
    bytes.append(buf, static_cast<size_t>(n));
  const int read_errno = errno;
  if (in >= 0) ::close(in);
  ::close(fd);
  ::unlink(path.c_str());
  if (!got) return std::unexpected(got.error());
  if (in < 0 || n < 0)
    return std::unexpected(error(Kind::io,
                                 redact_url(url) + ": reading the download back from " + path +
                                     ": " + std::strerror(read_errno),
                                 false));
  return bytes;
}

}  // namespace shoal::host
