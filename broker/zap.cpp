#include "broker/zap.h"

#include <algorithm>
#include <vector>
#include <zmq_addon.hpp>

#include "host/keys.h"

namespace shoal::broker {

ZapHandler::ZapHandler(zmq::context_t& ctx, host::StateDir dir, std::shared_ptr<spdlog::logger> log)
    : sock_(ctx, zmq::socket_type::rep), dir_(std::move(dir)), log_(std::move(log)) {
  sock_.set(zmq::sockopt::linger, 0);
  sock_.bind("inproc://zeromq.zap.01");
  thread_ = std::thread([this] { loop(); });
}

ZapHandler::~ZapHandler() {
  stop_ = true;
  thread_.join();
}

void ZapHandler::loop() {
  while (!stop_) {
    zmq::pollitem_t item{sock_.handle(), 0, ZMQ_POLLIN, 0};
    try {
      if (zmq::poll(&item, 1, std::chrono::milliseconds(200)) == 0) continue;
    } catch (const zmq::error_t&) {
      continue;  // EINTR
    }
    std::vector<zmq::message_t> req;
    if (!zmq::recv_multipart(sock_, std::back_inserter(req))) continue;
    // version, request id, domain, address, identity, mechanism, credentials...
    std::string request_id = req.size() > 1 ? req[1].to_string() : "";
    std::string domain = req.size() > 2 ? req[2].to_string() : "";
    std::string address = req.size() > 3 ? req[3].to_string() : "";
    std::string mechanism = req.size() > 5 ? req[5].to_string() : "";
    std::string status = "400", text = "not authorised", user;
    if (req.size() >= 7 && req[0].to_string() == "1.0" && mechanism == "CURVE" &&
        req[6].size() == 32) {
      char z85[41];
      zmq_z85_encode(z85, static_cast<const uint8_t*>(req[6].data()), 32);
      std::string key = z85;
      host::KeyRole role = domain == kWorkerDomain ? host::KeyRole::worker : host::KeyRole::client;
      bool known_domain = domain == kWorkerDomain || domain == kClientDomain;
      std::string name = known_domain ? authorised_name(dir_, role, key) : "";
      if (!name.empty()) {
        status = "200";
        text = "OK";
        user = name;
        log_->debug("accepted {} {} ({}) from {}",
                    role == host::KeyRole::worker ? "worker" : "client", name, key, address);
      } else {
        // How many keys of the role were readable: none at all would point
        // at the keys directory rather than at the peer.
        const auto keys = list_keys(dir_);
        const auto of_role = std::count_if(
            keys.begin(), keys.end(), [&](const host::AuthorisedKey& k) { return k.role == role; });
        const char* who = role == host::KeyRole::worker ? "worker" : "client";
        log_->warn(
            "refused a {} at {}: key {} is not authorised (shoal keys add-{} {}); authorised {} "
            "keys: {}",
            who, address, key, who, key, who, of_role);
      }
    } else {
      log_->warn("refused a peer at {}: mechanism {} is not CURVE", address, mechanism);
    }
    std::vector<zmq::const_buffer> reply = {zmq::str_buffer("1.0"), zmq::buffer(request_id),
                                            zmq::buffer(status),    zmq::buffer(text),
                                            zmq::buffer(user),      zmq::str_buffer("")};
    try {
      (void)zmq::send_multipart(sock_, reply);
    } catch (const zmq::error_t& e) {
      log_->error("ZAP reply failed: {}", e.what());
    }
  }
}

}  // namespace shoal::broker
