// libcurl, loaded the first time a URL is fetched rather than when a shoal
// process starts: libcurl and what it links (GnuTLS, Kerberos, LDAP, SSH:
// some twenty libraries, some initialising themselves at load) are then paid
// for only by the commands that fetch (their cost: docs/benchmarks.md).
//
// The functions shoal uses, resolved from the library curl.h was built
// against; curl_global_init has run once they are returned.
#pragma once

#include <curl/curl.h>

#include <expected>
#include <string>

namespace shoal::host {

struct CurlLibrary {
  CURL* (*easy_init)();
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  void (*easy_cleanup)(CURL*);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
};

// Loads libcurl and initialises it, once for the process (thread-safe);
// later calls return the same result. The error names the library and
// says what is missing.
std::expected<const CurlLibrary*, std::string> curl_library();

}  // namespace shoal::host
