#include "apiclient/http_client.h"

#include <utility>  // before Boost.Asio 1.74, which uses std::exchange without it

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <limits>
#include <optional>

namespace shoal::apiclient {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// A connected socket to the endpoint, or why not.
std::expected<tcp::socket, std::string> open(asio::io_context& io, const Endpoint& e) {
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto addresses = resolver.resolve(e.host, std::to_string(e.port), ec);
  tcp::socket socket(io);
  if (!ec) asio::connect(socket, addresses, ec);
  if (ec) return std::unexpected("cannot reach the REST API at " + e.url() + ": " + ec.message());
  return socket;
}

http::request<http::string_body> make_request(const Endpoint& e, std::string_view method,
                                              std::string_view target, std::string_view body) {
  http::request<http::string_body> req;
  req.method(http::string_to_verb(beast::string_view(method.data(), method.size())));
  req.target(std::string(target));
  req.version(11);
  req.set(http::field::host, e.host + ":" + std::to_string(e.port));
  req.set(http::field::user_agent, "shoal");
  if (!e.token.empty()) req.set(http::field::authorization, "Bearer " + e.token);
  if (!body.empty() || method == "PUT" || method == "POST") {
    req.set(http::field::content_type, "application/json");
    req.body() = std::string(body);
  }
  req.prepare_payload();
  return req;
}

std::string failed(const Endpoint& e, std::string_view what, const beast::error_code& ec) {
  return std::string(what) + " " + e.url() + ": " + ec.message();
}

// A socket to the endpoint on which the request has been sent, or why not.
std::expected<tcp::socket, std::string> send(asio::io_context& io, const Endpoint& e,
                                             std::string_view method, std::string_view target,
                                             std::string_view body) {
  auto socket = open(io, e);
  if (!socket) return socket;
  beast::error_code ec;
  http::write(*socket, make_request(e, method, target, body), ec);
  if (ec) return std::unexpected(failed(e, "cannot send to", ec));
  return socket;
}

// A response parser with no body limit: Beast 1.74 compares a length with
// an empty limit as over it.
template <class Body>
void unlimited(http::response_parser<Body>& parser) {
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
}

}  // namespace

std::string Endpoint::url() const {
  return "http://" + host + ":" + std::to_string(port);
}

HttpClient::HttpClient(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}

std::expected<Response, std::string> HttpClient::request(std::string_view method,
                                                         std::string_view target,
                                                         std::string_view body) const {
  asio::io_context io;
  auto socket = send(io, endpoint_, method, target, body);
  if (!socket) return std::unexpected(socket.error());
  beast::error_code ec;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  unlimited(parser);
  http::read(*socket, buffer, parser, ec);
  if (ec) return std::unexpected(failed(endpoint_, "no answer from", ec));
  auto& res = parser.get();
  socket->shutdown(tcp::socket::shutdown_both, ec);
  return Response{res.result_int(), std::move(res.body()),
                  std::string(res[http::field::content_type])};
}

std::expected<nlohmann::json, std::string> HttpClient::call(std::string_view method,
                                                            std::string_view target,
                                                            std::string_view body) const {
  auto r = request(method, target, body);
  if (!r) return std::unexpected(r.error());
  if (r->status != 200) return std::unexpected(error_message(*r));
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded())
    return std::unexpected("the REST API at " + endpoint_.url() + " answered " +
                           std::string(target) + " with a body that is not JSON");
  return j;
}

std::expected<void, std::string> HttpClient::download(std::string_view target,
                                                      const BodySink& sink) const {
  asio::io_context io;
  auto socket = send(io, endpoint_, "GET", target, {});
  if (!socket) return std::unexpected(socket.error());
  beast::error_code ec;
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  unlimited(parser);
  http::read_header(*socket, buffer, parser, ec);
  if (ec) return std::unexpected(failed(endpoint_, "no answer from", ec));
  const unsigned status = parser.get().result_int();
  std::string error_body;
  char chunk[64 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    http::read(*socket, buffer, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return std::unexpected(failed(endpoint_, "the download broke off from", ec));
    std::string_view got(chunk, sizeof chunk - parser.get().body().size);
    if (status != 200) {
      error_body += got;
    } else if (!got.empty()) {
      if (auto ok = sink(got); !ok) return ok;
    }
  }
  if (status != 200) return std::unexpected(error_message(Response{status, error_body, ""}));
  return {};
}

std::expected<void, std::string> HttpClient::websocket(
    std::string_view target, const std::function<void(std::string_view)>& on_frame) const {
  asio::io_context io;
  auto socket = open(io, endpoint_);
  if (!socket) return std::unexpected(socket.error());
  beast::websocket::stream<tcp::socket> ws(std::move(*socket));
  ws.read_message_max(0);
  const std::string token = endpoint_.token;
  ws.set_option(
      beast::websocket::stream_base::decorator([token](beast::websocket::request_type& r) {
        r.set(http::field::user_agent, "shoal");
        if (!token.empty()) r.set(http::field::authorization, "Bearer " + token);
      }));
  beast::websocket::response_type res;
  beast::error_code ec;
  ws.handshake(res, endpoint_.host + ":" + std::to_string(endpoint_.port), std::string(target), ec);
  if (ec) {
    if (res.result_int() != 0 && res.result_int() != 101)
      return std::unexpected(error_message(Response{res.result_int(), res.body(), ""}));
    return std::unexpected(failed(endpoint_, "no WebSocket from", ec));
  }
  for (;;) {
    beast::flat_buffer buffer;
    ws.read(buffer, ec);
    if (ec == beast::websocket::error::closed) return {};
    if (ec) return std::unexpected(failed(endpoint_, "the log stream broke off from", ec));
    auto data = buffer.data();
    on_frame(std::string_view(static_cast<const char*>(data.data()), data.size()));
  }
}

std::string error_message(const Response& response) {
  auto j = nlohmann::json::parse(response.body, nullptr, false);
  if (j.is_object() && j.contains("Message") && j["Message"].is_string()) {
    std::string m = j["Message"];
    if (j.contains("Hint") && j["Hint"].is_string() && !j["Hint"].get<std::string>().empty())
      m += " (" + j["Hint"].get<std::string>() + ")";
    return m;
  }
  if (!response.body.empty() && response.body.size() < 512) return response.body;
  return "HTTP " + std::to_string(response.status);
}

std::string encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace shoal::apiclient
