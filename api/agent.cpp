// /api/v1/agent/* (this broker as a Bacalhau node) and /api/v1/auth* (the
// challenge handshake Bacalhau's CLI performs before its first request).
#include <unistd.h>

#include <random>
#include <set>
#include <thread>

#include "api/routes.h"
#include "bacalhau/model.h"
#include "bacalhau/node_model.h"
#include "shoal_commit.h"
#include "shoal_config.h"

namespace shoal::api {

namespace {

std::string random_base64(size_t bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::random_device rd;
  std::string raw(bytes, '\0');
  for (auto& c : raw) c = static_cast<char>(rd() & 0xff);
  std::string out;
  for (size_t i = 0; i < raw.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(raw[i]) << 16;
    if (i + 1 < raw.size()) n |= static_cast<uint8_t>(raw[i + 1]) << 8;
    if (i + 2 < raw.size()) n |= static_cast<uint8_t>(raw[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < raw.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < raw.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

// The compile date as RFC 3339 (__DATE__ is "Mmm dd yyyy").
std::string build_date() {
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  std::string_view d = __DATE__;
  auto month = kMonths.find(d.substr(0, 3)) / 3 + 1;
  std::string day(d.substr(4, 2));
  if (day[0] == ' ') day[0] = '0';
  return std::string(d.substr(7, 4)) + "-" + (month < 10 ? "0" : "") + std::to_string(month) + "-" +
         day + "T00:00:00Z";
}

}  // namespace

nlohmann::json version_info() {
  std::string v = SHOAL_VERSION;
  auto dot = v.find('.');
  auto dot2 = v.find('.', dot + 1);
  return {{"Major", v.substr(0, dot)}, {"Minor", v.substr(dot + 1, dot2 - dot - 1)},
          {"GitVersion", "v" + v},     {"GitCommit", SHOAL_COMMIT},
          {"BuildDate", build_date()}, {"GOOS", "linux"},
          {"GOARCH", "amd64"}};
}

std::string node_id() {
  return bacalhau::local_node_id();
}

// This broker as a Bacalhau NodeInfo: it orchestrates and, with its local
// workers, computes. Its capacity is its configured local workers, less
// those the local pool of `pools` (the broker's `nodes` reply) has busy.
nlohmann::json node_info(const ApiOptions& options, const std::vector<nlohmann::json>& pools) {
  nlohmann::json labels = nlohmann::json::object();
  labels["Architecture"] = "amd64";
  labels["Operating-System"] = "linux";
  for (const auto& [k, v] : options.labels) labels[k] = v;
  int workers =
      options.workers > 0 ? options.workers : static_cast<int>(std::thread::hardware_concurrency());
  if (options.workers < 0) workers = 0;
  uint64_t busy = 0;
  for (const auto& pool : pools)
    if (pool.value("id", "") == "local" && !pool.value("remote", false))
      busy = pool.value("busy", uint64_t{0});
  nlohmann::json compute = bacalhau::compute_node_info(static_cast<uint64_t>(workers), busy);
  compute["MaxJobRequirements"] = {{"CPU", workers}};
  compute["address"] = options.host;
  return {{"NodeID", node_id()},        {"NodeType", "Requester"},
          {"Labels", labels},           {"SupportedProtocols", {"ncl/v1"}},
          {"ComputeNodeInfo", compute}, {"BacalhauVersion", version_info()}};
}

namespace {

nlohmann::json agent_config(const ApiOptions& options) {
  return {{"config",
           {{"API", {{"Host", options.host}, {"Port", options.port}}},
            {"NameProvider", "hostname"},
            {"DataDir", options.state_dir},
            {"Orchestrator", {{"Enabled", true}}},
            {"Compute", {{"Enabled", options.workers >= 0}}}}}};
}

nlohmann::json challenge() {
  return {{"type", "challenge"}, {"params", {{"InputPhrase", random_base64(32)}}}};
}

std::optional<Response> route_auth(const Request& request) {
  if (request.path == "/api/v1/auth" && request.method == "GET")
    return json_response({{"NextToken", ""}, {"Methods", {{"ClientKey", challenge()}}}});
  if (request.path != "/api/v1/auth/ClientKey") return std::nullopt;
  if (request.method == "GET") return json_response(challenge());
  if (request.method == "POST")
    return json_response({{"Authentication", {{"success", true}, {"token", random_base64(24)}}}});
  return error_response(request, 405, "Method Not Allowed", "InternalError");
}

}  // namespace

std::optional<Response> route_agent(const Request& request, Context& context) {
  if (request.path.starts_with("/api/v1/auth")) return route_auth(request);
  constexpr std::string_view prefix = "/api/v1/agent/";
  if (!request.path.starts_with(prefix)) return std::nullopt;
  auto what = request.path.substr(prefix.size());
  static const std::set<std::string> known = {"alive",  "version", "node",
                                              "config", "debug",   "authconfig"};
  if (!known.contains(what)) return std::nullopt;
  if (request.method != "GET")
    return error_response(request, 405, "Method Not Allowed", "InternalError");
  const auto& o = context.options;
  if (what == "alive") return json_response({{"Status", "OK"}});
  if (what == "version") return json_response(version_info());
  if (what == "node") {
    auto pools = context.ask(request, [](client::Client& c) { return c.nodes(); });
    if (!pools) return pools.error();
    return json_response(node_info(o, *pools));
  }
  if (what == "config") return json_response(agent_config(o));
  if (what == "debug") return json_response(nlohmann::json::object());
  return json_response({{"Version", "1.0.0"}, {"Config", nlohmann::json::object()}});
}

}  // namespace shoal::api
