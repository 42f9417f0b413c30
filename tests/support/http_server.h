// A real HTTP server on 127.0.0.1 for tests (cpp-httplib), on a free port,
// serving on its own thread from construction to destruction. Handlers that
// wait should poll closing() so that the destructor is not held up.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

namespace shoal::test {

class HttpServer {
 public:
  HttpServer() {
    // The tests reach 127.0.0.1 directly, whatever the environment says.
    for (const char* v :
         {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"})
      ::unsetenv(v);
    port_ = http.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("cannot bind an HTTP server on 127.0.0.1");
    thread_ = std::thread([this] { http.listen_after_bind(); });
    while (!http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~HttpServer() {
    closing_ = true;
    http.stop();
    thread_.join();
  }
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  bool closing() const { return closing_; }

  httplib::Server http;

 private:
  int port_ = 0;
  std::atomic<bool> closing_{false};
  std::thread thread_;
};

}  // namespace shoal::test
