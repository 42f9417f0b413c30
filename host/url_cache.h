// The broker's cache of fetched URL inputs, in a directory of its own
// (<state>/cache/urls), so that the jobs of a fan-out share one download and
// a re-run asks the server only whether the input changed.
//
// Layout under the cache directory:
//   blobs/<sha256>        a body, named by its SHA-256; shared by every URL
//                         that served those bytes; mode 0444, never
//                         modified in place (a changed body is a new blob)
//   entries/<sha256(url)>.json
//                         what is known of one URL: url, etag,
//                         last_modified, size, sha256, fetched_at and
//                         checked_at (Unix seconds)
//   incoming/             bodies being downloaded (fetch_url's temporary
//                         files); a crash may leave *.part-* files here
//
// Every file is written under a temporary name and renamed into place, so a
// reader sees either the old or the new version. An entry that cannot be
// read (corrupt JSON, a missing field, a blob that is gone or has the wrong
// size) is a miss, never an error. Nothing is evicted yet: blobs of URLs
// whose content changed stay until the directory is cleared.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "host/fetch.h"

namespace shoal::host {

struct CachedUrl {
  enum class Source {
    network,      // this call downloaded the body
    revalidated,  // the server answered 304: the cached body is current
    cache,        // confirmed within fresh_for: the server was not asked
  };
  std::string url;
  std::string path;  // the blob: read it, never write it
  uint64_t size = 0;
  std::string sha256;
  std::string etag;
  std::string last_modified;
  std::chrono::system_clock::time_point fetched_at;  // when the body was downloaded
  std::chrono::system_clock::time_point checked_at;  // when it was last known current
  Source source = Source::network;
};

class UrlCache {
 public:
  // Uses `dir`, creating it and its subdirectories on the first fetch. An
  // entry confirmed (downloaded or revalidated) less than `fresh_for` ago is
  // returned without asking the server; zero, the default, always asks.
  explicit UrlCache(std::filesystem::path dir,
                    std::chrono::seconds fresh_for = std::chrono::seconds(0));
  UrlCache(const UrlCache&) = delete;
  UrlCache& operator=(const UrlCache&) = delete;

  // The body of `url`, from the cache when it is still current:
  //  - no usable entry: fetches it;
  //  - an entry with an ETag or Last-Modified: a conditional request; 304
  //    keeps the blob, 200 replaces the entry with the new body;
  //  - an entry without validators: fetches it again.
  // A failed fetch fails the call (a stale copy is not served) and leaves
  // the entry as it was. Errors are fetch_url's, or kind io for the cache's
  // own files.
  //
  // Thread-safe. Calls for the same URL while one is in flight wait for it
  // and share its result, so one download serves them all; only the first
  // caller's options (progress, limits) apply to that download, and a
  // waiter's cancel flag ends its own wait. If the download was cancelled by
  // its own caller, a waiter starts another one. Blocks the calling thread.
  std::expected<CachedUrl, FetchError> get_or_fetch(const std::string& url,
                                                    const FetchOptions& options = {});

  // What the cache holds for `url`, without the network; nullopt when
  // nothing usable. source is `cache`.
  std::optional<CachedUrl> lookup(const std::string& url) const;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  struct Flight;
  std::expected<CachedUrl, FetchError> fetch_or_revalidate(const std::string& url,
                                                           const FetchOptions& options);

  std::filesystem::path dir_;
  std::chrono::seconds fresh_for_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Flight>> flights_;  // by URL, guarded by mu_
};

}  // namespace shoal::host
