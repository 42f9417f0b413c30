#include "api/server.h"

#include <signal.h>
#include <sys/resource.h>

#include <utility>  // before Boost.Asio 1.74, which uses std::exchange without it

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "api/logs.h"
#include "api/routes.h"
#include "api/url.h"
#include "shoal_config.h"

namespace shoal::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// How long a client may take to send a request (headers and body) or to
// read a response: a connection that trickles is closed (slowloris).
constexpr auto kIoDeadline = std::chrono::seconds(30);

// Compares in time that depends only on the lengths, not on where the
// strings first differ.
bool same_token(std::string_view given, std::string_view expected) {
  if (expected.empty()) return false;
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned char>(given[i] ^ expected[i % expected.size()]);
  return diff == 0;
}

// The handler threads' shared state; each thread keeps its own Context.
// Log streams (api/logs.h) run on a pool of their own: a followed stream
// holds its thread while the job runs.
struct Shared {
  ApiOptions options;
  asio::thread_pool handlers;
  // ApiOptions::max_log_streams threads: one more stream is refused with an
  // error frame (refuse_log_stream) until one has sent its last frame (its
  // close handshake may still hold its thread a few seconds: a stream then
  // waits for that thread, no longer).
  asio::thread_pool streams;
  asio::thread_pool refusals{2};     // refuse_log_stream: a frame and a close each
  std::atomic<size_t> streaming{0};  // log streams not yet past their last frame
  // Log streams refused since the last one served: the first and the count
  // are said (say), not each.
  std::atomic<uint64_t> streams_refused{0};
  std::atomic<size_t> open{0};  // connections held, log streams included
  explicit Shared(ApiOptions o)
      : options(std::move(o)),
        handlers(static_cast<size_t>(options.handler_threads)),
        streams(options.max_log_streams) {}
  void say(const std::string& line) const {
    if (options.log)
      options.log(line);
    else
      std::fprintf(stderr, "shoal: %s\n", line.c_str());
  }
};

// One of Shared::open while it lives: a connection's, from its accept until
// its session or log stream ends.
using Slot = std::shared_ptr<void>;

uint64_t open_file_limit() {
  struct rlimit r {};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return 1 << 20;
  return r.rlim_cur;
}

Context& thread_context(const ApiOptions& options) {
  thread_local Context context{options, std::nullopt};
  return context;
}

Request plain_request(const http::request<http::string_body>& req) {
  Request r;
  r.method = std::string(req.method_string());
  auto target = std::string(req.target());
  auto q = target.find('?');
  r.path = percent_decode(target.substr(0, q));
  if (q != std::string::npos) r.query = parse_query(target.substr(q + 1));
  r.body = req.body();
  r.request_id = std::string(req["X-Request-ID"]);
  r.host = std::string(req[http::field::host]);
  return r;
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// Whether the request carries the token, when one is set: as
// `Authorization: Bearer TOKEN`, or, on a WebSocket upgrade (which a
// browser sends without that header), as an offered subprotocol
// "bearer.shoal.HEX" (api/logs.h).
bool authorized(const Shared& shared, const http::request<http::string_body>& req) {
  if (shared.options.token.empty()) return true;
  auto field = req[http::field::authorization];
  std::string_view auth(field.data(), field.size());
  constexpr std::string_view bearer = "Bearer ";
  if (auth.substr(0, bearer.size()) == bearer &&
      same_token(auth.substr(bearer.size()), shared.options.token))
    return true;
  if (!beast::websocket::is_upgrade(req)) return false;
  auto offered = req[http::field::sec_websocket_protocol];
  const std::string expected = hex(shared.options.token);
  bool found = false;
  for (auto p : offered_protocols(std::string_view(offered.data(), offered.size())))
    if (p.starts_with(kTokenProtocol))
      found |= same_token(p.substr(kTokenProtocol.size()), expected);
  return found;
}

// The response to one request, on a handler thread.
Response answer(const Shared& shared, const http::request<http::string_body>& req) {
  Request r = plain_request(req);
  if (!authorized(shared, req)) {
    // The dashboard's page and files hold no data: they are served without
    // the token, and the page asks for it (docs/dashboard.md).
    if (auto page = route_dashboard(r)) return std::move(*page);
    return error_response(r, 401, "a bearer token is required (Authorization: Bearer TOKEN)",
                          "Unauthorized");
  }
  try {
    return route(r, thread_context(shared.options));
  } catch (const std::exception& e) {
    return error_response(r, 500, std::string("internal error: ") + e.what(), "InternalError",
                          "Unknown");
  }
}

http::response<http::string_body> to_beast(const Response& res, unsigned version, bool keep) {
  http::response<http::string_body> out{static_cast<http::status>(res.status), version};
  out.set(http::field::server, "shoal/" SHOAL_VERSION);
  out.set(http::field::content_type, res.content_type);
  out.set("X-Bacalhau-Git-Version", "v" SHOAL_VERSION);
  if (!res.location.empty()) out.set(http::field::location, res.location);
  out.keep_alive(keep);
  out.body() = res.body;
  out.prepare_payload();
  return out;
}

// One connection: read a request, answer it on a handler thread, write the
// response, again while the client keeps the connection alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Shared& shared, Slot slot)
      : stream_(std::move(socket)), shared_(shared), slot_(std::move(slot)) {}

  void read() {
    parser_.emplace();
    parser_->body_limit(shared_.options.body_limit);
    stream_.expires_after(kIoDeadline);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) return too_large();
    if (ec) return close();
    auto req = std::make_shared<http::request<http::string_body>>(parser_->release());
    stream_.expires_never();  // the handler's time is not the client's
    if (beast::websocket::is_upgrade(*req) &&
        is_log_stream(std::string_view(req->target().data(), req->target().size())) &&
        authorized(shared_, *req))
      return hand_over(req);
    asio::post(shared_.handlers, [self = shared_from_this(), req] {
      Response res = answer(self->shared_, *req);
      auto out = std::make_shared<http::response<http::string_body>>(
          to_beast(res, req->version(), req->keep_alive()));
      asio::post(self->stream_.get_executor(), [self, out] { self->write(out); });
    });
  }

  // The connection becomes a log stream on a thread of its own, or, when
  // all max_log_streams are streaming, gets an error frame saying so.
  void hand_over(std::shared_ptr<http::request<http::string_body>> req) {
    auto socket = std::make_shared<tcp::socket>(stream_.release_socket());
    Shared& shared = shared_;
    const size_t cap = shared.options.max_log_streams;
    if (shared.streaming.fetch_add(1) >= cap) {
      --shared.streaming;
      const std::string why = "the API streams at most " + std::to_string(cap) +
                              " job logs at once and all are in use: close another log view, "
                              "try again when a followed job ends, or raise the cap "
                              "(shoal serve --api-max-log-streams)";
      if (shared.streams_refused++ == 0) shared.say("the REST API refuses a log stream: " + why);
      asio::post(shared.refusals, [socket, req, why, slot = slot_] {
        refuse_log_stream(std::move(*socket), *req, why);
      });
      return;
    }
    if (auto refused = shared.streams_refused.exchange(0))
      shared.say("the REST API streams logs again, after refusing " + std::to_string(refused));
    asio::post(shared.streams, [socket, req, buffer = std::move(buffer_), &shared, slot = slot_] {
      serve_log_stream(std::move(*socket), buffer, *req, shared.options,
                       [&shared] { --shared.streaming; });
    });
  }

  void too_large() {
    Request r;
    auto res = error_response(r, 413,
                              "request body too large: the limit is " +
                                  std::to_string(shared_.options.body_limit) + " bytes",
                              "ResourceExhausted");
    write(std::make_shared<http::response<http::string_body>>(to_beast(res, 11, false)));
  }

  void write(std::shared_ptr<http::response<http::string_body>> out) {
    stream_.expires_after(kIoDeadline);
    http::async_write(stream_, *out,
                      [self = shared_from_this(), out](beast::error_code ec, size_t) {
                        if (ec || !out->keep_alive()) return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Shared& shared_;
  Slot slot_;
};

std::expected<tcp::endpoint, std::string> resolve(asio::io_context& io, const ApiOptions& o) {
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(o.host, std::to_string(o.port), ec);
  if (ec || results.empty())
    return std::unexpected("cannot resolve the API host '" + o.host + "': " + ec.message());
  auto endpoint = results.begin()->endpoint();
  if (!endpoint.address().is_loopback() && o.token.empty())
    return std::unexpected("the API would listen on " + o.host +
                           ", which is not a loopback address: give --api-token-file FILE "
                           "(a bearer token every request must carry), or listen on 127.0.0.1");
  return endpoint;
}

}  // namespace

std::expected<std::string, std::string> read_token_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected("cannot read the API token file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  auto first = token.find_first_not_of(" \t\r\n");
  if (first == std::string::npos)
    return std::unexpected("the API token file " + path + " is empty");
  auto last = token.find_last_not_of(" \t\r\n");
  return token.substr(first, last - first + 1);
}

size_t connection_cap(const ApiOptions& options, uint64_t fd_limit) {
  if (options.max_connections > 0) return options.max_connections;
  return static_cast<size_t>(std::clamp<uint64_t>(fd_limit / 4, 1, kMaxConnections));
}

struct Server::Impl {
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::steady_timer pause{io};
  std::unique_ptr<Shared> shared;
  std::thread io_thread;
  // A burst of refused connections (I/O thread only): said when it starts
  // and, with its count, when a connection is taken again.
  uint64_t refused = 0;
  bool accept_failing = false;

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (!acceptor.is_open()) return;
      if (ec) return accept_later(ec);
      accept_failing = false;
      admit(std::move(socket));
      accept();
    });
  }

  // accept(2) failed (EMFILE: no descriptor left): tried again in 100 ms,
  // not at once, which would spin.
  void accept_later(beast::error_code ec) {
    if (!accept_failing)
      shared->say("the REST API cannot accept connections (" + ec.message() + "), " +
                  std::to_string(shared->open.load()) + " open; trying again every 100 ms");
    accept_failing = true;
    pause.expires_after(std::chrono::milliseconds(100));
    pause.async_wait([this](beast::error_code e) {
      if (!e && acceptor.is_open()) accept();
    });
  }

  void admit(tcp::socket socket) {
    const size_t cap = connection_cap(shared->options, open_file_limit());
    if (shared->open.load() >= cap) return refuse(std::move(socket), cap);
    if (refused > 0)
      shared->say("the REST API takes connections again, after refusing " +
                  std::to_string(std::exchange(refused, 0)) + " past its cap of " +
                  std::to_string(cap));
    ++shared->open;
    Slot slot(nullptr, [s = shared.get()](void*) { --s->open; });
    std::make_shared<Session>(std::move(socket), *shared, std::move(slot))->read();
  }

  // Past the cap: 503 at once, and the connection closed.
  void refuse(tcp::socket socket, size_t cap) {
    if (refused++ == 0)
      shared->say("the REST API holds " + std::to_string(cap) +
                  " connections, its cap (--api-max-connections): refusing new ones with 503");
    auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
    Request r;
    auto out = std::make_shared<http::response<http::string_body>>(
        to_beast(error_response(r, 503,
                                "the REST API serves at most " + std::to_string(cap) +
                                    " connections at once; try again later",
                                "ServiceUnavailable"),
                 11, false));
    stream->expires_after(std::chrono::seconds(5));
    http::async_write(*stream, *out, [stream, out](beast::error_code, size_t) {
      beast::error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
      stream->socket().close(ignored);
    });
  }
};

std::expected<std::unique_ptr<Server>, std::string> Server::start(const ApiOptions& options) {
  auto impl = std::make_unique<Impl>();
  auto endpoint = resolve(impl->io, options);
  if (!endpoint) return std::unexpected(endpoint.error());
  beast::error_code ec;
  impl->acceptor.open(endpoint->protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(*endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return std::unexpected("cannot listen for the API on " + options.host + ":" +
                           std::to_string(options.port) + ": " + ec.message());
  // The broker handles SIGTERM and SIGINT on its own thread: the API's
  // threads never take them.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  impl->shared = std::make_unique<Shared>(options);
  impl->accept();
  impl->io_thread = std::thread([io = &impl->io] { io->run(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  asio::post(impl_->io, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
  impl_->io.stop();
  if (impl_->io_thread.joinable()) impl_->io_thread.join();
  impl_->shared->handlers.stop();
  impl_->shared->handlers.join();
  impl_->shared->streams.stop();
  impl_->shared->streams.join();
}

uint16_t Server::port() const {
  return impl_->acceptor.local_endpoint().port();
}

}  // namespace shoal::api
