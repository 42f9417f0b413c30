#include "host/curl_library.h"

#include <dlfcn.h>

#include <mutex>

namespace shoal::host {
namespace {

// libcurl's soname, unchanged since 2006 (libcurl 7.16).
constexpr char kSoname[] = "libcurl.so.4";

std::expected<const CurlLibrary*, std::string> load() {
  void* handle = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    return std::unexpected(std::string("cannot load ") + kSoname + " (" + ::dlerror() +
                           "); install libcurl4 to fetch URLs");
  std::string missing;
  auto find = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(handle, name));
    if (!fn) missing += std::string(missing.empty() ? "" : ", ") + name;
  };
  static CurlLibrary lib;
  CURLcode (*global_init)(long) = nullptr;
  find(global_init, "curl_global_init");
  find(lib.easy_init, "curl_easy_init");
  find(lib.easy_setopt, "curl_easy_setopt");
  find(lib.easy_perform, "curl_easy_perform");
  find(lib.easy_getinfo, "curl_easy_getinfo");
  find(lib.easy_cleanup, "curl_easy_cleanup");
  find(lib.easy_strerror, "curl_easy_strerror");
  find(lib.slist_append, "curl_slist_append");
  find(lib.slist_free_all, "curl_slist_free_all");
  if (!missing.empty())
    return std::unexpected(std::string(kSoname) + " lacks " + missing + " (too old a libcurl?)");
  // Not thread-safe in every libcurl, and first: it runs here, once.
  if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return std::unexpected(std::string("libcurl could not be initialised"));
  return &lib;
}

}  // namespace

std::expected<const CurlLibrary*, std::string> curl_library() {
  static std::once_flag once;
  static std::expected<const CurlLibrary*, std::string> loaded;
  std::call_once(once, [] { loaded = load(); });
  return loaded;
}

}  // namespace shoal::host
