#include "host/url_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "protocol/sha256.h"

namespace shoal::host {

namespace fs = std::filesystem;
using SysClock = std::chrono::system_clock;

struct UrlCache::Flight {
  std::condition_variable cv;  // waits on UrlCache::mu_
  bool done = false;
  std::optional<std::expected<CachedUrl, FetchError>> result;
};

namespace {

// A blob name comes from an entry file; checking it keeps a corrupt entry
// from pointing outside blobs/.
bool is_sha256_hex(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

fs::path entry_path(const fs::path& dir, const std::string& url) {
  return dir / "entries" / (sha256_hex(url) + ".json");
}

int64_t to_unix(SysClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
SysClock::time_point from_unix(int64_t s) {
  return SysClock::time_point(std::chrono::seconds(s));
}

FetchError io_error(const std::string& url, const std::string& cause) {
  return FetchError{FetchError::Kind::io, redact_url(url) + ": URL cache: " + cause, 0, false};
}

std::optional<CachedUrl> read_entry(const fs::path& dir, const std::string& url) {
  std::ifstream in(entry_path(dir, url));
  if (!in) return std::nullopt;
  auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  CachedUrl e;
  try {
    // Two URLs whose hashes collide would share an entry file: the stored
    // URL settles which one it describes.
    if (j.at("url").get<std::string>() != url) return std::nullopt;
    e.url = url;
    e.etag = j.at("etag").get<std::string>();
    e.last_modified = j.at("last_modified").get<std::string>();
    e.size = j.at("size").get<uint64_t>();
    e.sha256 = j.at("sha256").get<std::string>();
    e.fetched_at = from_unix(j.at("fetched_at").get<int64_t>());
    e.checked_at = from_unix(j.at("checked_at").get<int64_t>());
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  if (!is_sha256_hex(e.sha256)) return std::nullopt;
  e.path = (dir / "blobs" / e.sha256).string();
  // Only the size is checked: hashing a large blob on every use would cost
  // more than the download it saves. Blobs are read-only and renamed into
  // place, so a right-sized blob is the body that was hashed.
  std::error_code ec;
  auto st = fs::status(e.path, ec);
  if (ec || !fs::is_regular_file(st) || fs::file_size(e.path, ec) != e.size || ec)
    return std::nullopt;
  e.source = CachedUrl::Source::cache;
  return e;
}

// Writes `text` to `path` through a temporary file and a rename.
std::expected<void, std::string> write_atomically(const fs::path& path, const std::string& text) {
  std::string tmp = path.string() + ".tmp-XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return std::unexpected(tmp + ": " + std::strerror(errno));
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      std::string why = tmp + ": " + std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return std::unexpected(why);
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = path.string() + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return std::unexpected(why);
  }
  return {};
}

std::expected<void, std::string> write_entry(const fs::path& dir, const CachedUrl& e) {
  nlohmann::json j = {
      {"url", e.url},
      {"etag", e.etag},
      {"last_modified", e.last_modified},
      {"size", e.size},
      {"sha256", e.sha256},
      {"fetched_at", to_unix(e.fetched_at)},
      {"checked_at", to_unix(e.checked_at)},
  };
  return write_atomically(entry_path(dir, e.url), j.dump(2) + "\n");
}

}  // namespace

UrlCache::UrlCache(fs::path dir, std::chrono::seconds fresh_for)
    : dir_(std::move(dir)), fresh_for_(fresh_for) {}

std::optional<CachedUrl> UrlCache::lookup(const std::string& url) const {
  return read_entry(dir_, url);
}

std::expected<CachedUrl, FetchError> UrlCache::get_or_fetch(const std::string& url,
                                                            const FetchOptions& options) {
  std::unique_lock lock(mu_);
  for (;;) {
    auto it = flights_.find(url);
    if (it == flights_.end()) break;
    auto flight = it->second;
    // Wake now and then to notice our own cancel flag.
    while (!flight->done) {
      if (options.cancel && options.cancel->load())
        return std::unexpected(
            FetchError{FetchError::Kind::cancelled, redact_url(url) + ": cancelled", 0, false});
      flight->cv.wait_for(lock, std::chrono::milliseconds(50));
    }
    const auto& r = *flight->result;
    // The leader was cancelled, not us: look again (start our own fetch).
    if (!r && r.error().kind == FetchError::Kind::cancelled) continue;
    return r;
  }
  auto flight = std::make_shared<Flight>();
  flights_.emplace(url, flight);
  lock.unlock();

  auto result = fetch_or_revalidate(url, options);

  lock.lock();
  flight->result = result;
  flight->done = true;
  flights_.erase(url);
  flight->cv.notify_all();
  return result;
}

std::expected<CachedUrl, FetchError> UrlCache::fetch_or_revalidate(const std::string& url,
                                                                   const FetchOptions& options) {
  auto entry = read_entry(dir_, url);
  auto now = SysClock::now();
  if (entry && fresh_for_.count() > 0 && now - entry->checked_at < fresh_for_) return *entry;

  std::error_code ec;
  for (const char* sub : {"entries", "blobs", "incoming"}) {
    fs::create_directories(dir_ / sub, ec);
    if (ec) return std::unexpected(io_error(url, (dir_ / sub).string() + ": " + ec.message()));
  }

  FetchOptions o = options;
  o.if_none_match.clear();
  o.if_modified_since.clear();
  if (entry) {
    o.if_none_match = entry->etag;
    o.if_modified_since = entry->last_modified;
  }
  // A name of its own per download, so that no other fetch (another
  // process sharing the directory) can move it away before our rename.
  static std::atomic<uint64_t> downloads{0};
  auto incoming =
      dir_ / "incoming" /
      (sha256_hex(url) + "." + std::to_string(::getpid()) + "." + std::to_string(++downloads));
  auto fetched = fetch_url(url, incoming.string(), o);
  if (!fetched) return std::unexpected(std::move(fetched.error()));
  now = SysClock::now();

  CachedUrl e;
  if (fetched->not_modified) {
    e = *entry;
    e.source = CachedUrl::Source::revalidated;
  } else {
    e.url = url;
    e.size = fetched->size;
    e.sha256 = fetched->sha256;
    e.path = (dir_ / "blobs" / e.sha256).string();
    e.fetched_at = now;
    e.source = CachedUrl::Source::network;
    // Blobs are named by their content, so one already in place with the
    // right size is these bytes: keep it rather than rename over it, which
    // would pull it from under a worker linking it into a job (a link to a
    // file renamed over fails with ENOENT).
    struct stat existing;
    bool in_place = ::stat(e.path.c_str(), &existing) == 0 && S_ISREG(existing.st_mode) &&
                    static_cast<uint64_t>(existing.st_size) == e.size;
    if (in_place) {
      ::unlink(incoming.c_str());
    } else {
      // Read-only before it is visible under its final name: jobs share it.
      ::chmod(incoming.c_str(), 0444);
    }
    if (!in_place && ::rename(incoming.c_str(), e.path.c_str()) != 0) {
      std::string why = e.path + ": " + std::strerror(errno);
      ::unlink(incoming.c_str());
      return std::unexpected(io_error(url, why));
    }
  }
  // A 304 may carry fresher validators; a 200 carries the new body's.
  if (!fetched->etag.empty() || !fetched->not_modified) e.etag = fetched->etag;
  if (!fetched->last_modified.empty() || !fetched->not_modified)
    e.last_modified = fetched->last_modified;
  e.checked_at = now;
  if (auto w = write_entry(dir_, e); !w) return std::unexpected(io_error(url, w.error()));
  return e;
}

}  // namespace shoal::host
