#include "broker/provision/provisioner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "host/keys.h"

namespace shoal::broker::provision {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A pilot the engine no longer lists this long after its submission has
// ended (a job just submitted may not be listed yet).
constexpr auto kListingLag = std::chrono::seconds(15);
// After the engine refuses a placement, it is not asked again for so long;
// after it could not be reached, no submission for so long.
constexpr auto kRefusedFor = std::chrono::seconds(60);
constexpr auto kRetryAfter = std::chrono::seconds(10);

std::string random_hex(size_t bytes) {
  unsigned char raw[16] = {};
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (::read(fd, raw, std::min(bytes, sizeof raw)) < 0) raw[0] = 0;
    ::close(fd);
  }
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < std::min(bytes, sizeof raw); ++i) {
    out += digits[raw[i] >> 4];
    out += digits[raw[i] & 15];
  }
  return out;
}

// 'text' for sh, quotes inside closed and escaped.
std::string sh_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::expected<std::string, std::string> broker_id(const std::string& pilots) {
  const std::string path = pilots + "/broker-id";
  std::string id = read_file(path);
  while (!id.empty() && id.back() == '\n') id.pop_back();
  if (id.size() == 8) return id;
  id = random_hex(4);
  std::ofstream out(path, std::ios::trunc);
  out << id << "\n";
  if (!out) return std::unexpected("cannot write " + path);
  return id;
}

}  // namespace

std::expected<std::string, std::string> pilot_broker_id(const host::StateDir& dir) {
  const std::string pilots = dir.root + "/pilots";
  std::error_code ec;
  fs::create_directories(pilots, ec);
  if (ec || ::chmod(pilots.c_str(), 0700) != 0)
    return std::unexpected("cannot make " + pilots + ": " + (ec ? ec.message() : "chmod failed"));
  return broker_id(pilots);
}

std::expected<std::unique_ptr<Provisioner>, std::string> Provisioner::start(
    ProvisionerOptions options, host::StateDir dir, std::unique_ptr<Provider> provider, Log log) {
  auto id = pilot_broker_id(dir);
  if (!id) return std::unexpected(id.error());
  std::unique_ptr<Provisioner> p(new Provisioner(std::move(options), std::move(dir),
                                                 std::move(provider), std::move(log), *id));
  p->thread_ = std::thread([raw = p.get()] { raw->run(); });
  return p;
}

Provisioner::Provisioner(ProvisionerOptions options, host::StateDir dir,
                         std::unique_ptr<Provider> provider, Log log, std::string broker_id)
    : o_(std::move(options)),
      dir_(std::move(dir)),
      provider_(std::move(provider)),
      log_(std::move(log)),
      broker_id_(std::move(broker_id)) {}

Provisioner::~Provisioner() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Provisioner::update(Demand demand) {
  std::lock_guard lock(mu_);
  demand_ = std::move(demand);
}

std::optional<std::vector<PilotInfo>> Provisioner::pilots() const {
  std::lock_guard lock(mu_);
  return published_;
}

std::vector<Refusal> Provisioner::take_refusals() {
  std::lock_guard lock(mu_);
  return std::exchange(refusals_, {});
}

void Provisioner::cancel_all() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& [name, p] : pilots_) {
    if (!p.info.job_id.empty()) cancel(p);
    revoke(name);
  }
  pilots_.clear();
}

void Provisioner::run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    round();
    lock.lock();
    cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; });
  }
}

std::string Provisioner::pilot_dir(const std::string& name) const {
  return dir_.root + "/pilots/" + name;
}

void Provisioner::round() {
  if (!reconcile()) return;
  Demand demand;
  {
    std::lock_guard lock(mu_);
    demand = demand_;
  }
  const auto now = ScaleClock::now();
  for (auto it = demand.queued.begin(); it != demand.queued.end();) {
    auto refused = refused_until_.find(it->first);
    it = refused != refused_until_.end() && refused->second > now ? demand.queued.erase(it)
                                                                  : std::next(it);
  }
  Decision d = decide(o_.limits, demand.queued, views(demand), now);
  for (const auto& name : d.cancel)
    if (auto it = pilots_.find(name); it != pilots_.end()) cancel(it->second);
  for (const auto& placement : d.submit) {
    if (ScaleClock::now() < retry_after_ || refused_until_[placement] > ScaleClock::now()) continue;
    submit(placement);
  }
  publish();
}

std::vector<PilotView> Provisioner::views(const Demand& demand) const {
  std::vector<PilotView> out;
  for (const auto& [name, p] : pilots_) {
    if (p.cancelling) continue;
    PilotView v;
    v.name = name;
    v.placement = p.info.placement;
    auto link = demand.links.find(name);
    if (link != demand.links.end() && link->second.workers > 0) {
      v.phase = PilotView::Phase::connected;
      v.busy = link->second.busy;
      v.idle_since = link->second.idle_since;
    } else {
      v.phase = p.info.job_id.empty() || p.info.state.empty() || p.info.state == "PENDING"
                    ? PilotView::Phase::pending
                    : PilotView::Phase::starting;
    }
    out.push_back(v);
  }
  return out;
}

void Provisioner::publish() {
  std::vector<PilotInfo> infos;
  for (const auto& [name, p] : pilots_) infos.push_back(p.info);
  std::lock_guard lock(mu_);
  published_ = std::move(infos);
}

bool Provisioner::reconcile() {
  auto listed = provider_->list();
  if (!listed) {
    if (listed.error() != last_error_) log_(true, "cannot list the pilots: " + listed.error());
    last_error_ = listed.error();
    return false;
  }
  last_error_.clear();
  std::map<std::string, const PilotStatus*> seen;
  for (const auto& s : *listed) seen[s.name] = &s;
  for (const auto& [name, s] : seen) {
    auto it = pilots_.find(name);
    if (it == pilots_.end()) {
      // A pilot of this broker's name: ours if its directory (and key) is.
      json record = json::parse(read_file(pilot_dir(name) + "/pilot.json"), nullptr, false);
      if (record.is_discarded() || !record.is_object()) {
        log_(true, "cancelling " + provider_->engine() + " job " + s->job_id + " (pilot " + name +
                       "): no key of this broker is kept for it");
        (void)provider_->cancel(s->job_id);
        continue;
      }
      Pilot p;
      p.info.name = name;
      p.info.engine = provider_->engine();
      p.info.placement = {record.value("partition", ""), record.value("feature", "")};
      p.info.slots = record.value("slots", o_.limits.slots);
      p.info.submitted_ns = record.value("submitted_ns", int64_t{0});
      it = pilots_.emplace(name, std::move(p)).first;
      log_(false, "found pilot " + name + " again: " + provider_->engine() + " job " + s->job_id +
                      ", " + s->state);
    }
    PilotInfo& info = it->second.info;
    info.job_id = s->job_id;
    info.state = s->state;
    info.node = s->node;
    info.reason = s->reason;
  }
  const auto now = ScaleClock::now();
  for (auto it = pilots_.begin(); it != pilots_.end();) {
    if (seen.contains(it->first) || now - it->second.submitted < kListingLag) {
      ++it;
      continue;
    }
    log_(false, "pilot " + it->first + " (" + provider_->engine() + " job " +
                    it->second.info.job_id + ") ended; its key is revoked");
    revoke(it->first);
    it = pilots_.erase(it);
  }
  if (!listed_once_) {
    // Pilots that ended while no broker ran: their keys go.
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_.root + "/pilots", ec))
      if (entry.is_directory(ec) && !pilots_.contains(entry.path().filename().string()))
        revoke(entry.path().filename().string());
    listed_once_ = true;
  }
  return true;
}

std::string Provisioner::script(const std::string& name, const Placement& placement) const {
  std::string labels;
  for (const auto& [k, v] : pilot_labels(name, placement))
    labels += " --label " + sh_quote(k + "=" + v);
  // exec: the pool is the job's process, which Slurm signals and ends
  // (it must not leave the job's process tree).
  return "#!/bin/sh\n"
         "# shoal pilot " +
         name +
         " (docs/slurm.md)\n"
         "exec " +
         sh_quote(o_.shoal_binary) + " worker --connect " + sh_quote(o_.connect) +
         " --server-key=" + sh_quote(o_.server_key) + " --slots " +
         std::to_string(o_.limits.slots) + " --state-dir " + sh_quote(pilot_dir(name)) + labels +
         " --label \"slurm.job=$SLURM_JOB_ID\" --label \"slurm.node=$SLURMD_NODENAME\"\n";
}

void Provisioner::submit(const Placement& placement) {
  const std::string name = "p" + random_hex(4);
  const std::string dir = pilot_dir(name);
  std::error_code ec;
  fs::create_directories(dir, ec);
  auto keys = host::identity_keys(host::state_dir_at(dir), true);
  std::expected<std::string, std::string> added =
      keys ? host::add_key(dir_, host::KeyRole::worker, keys->public_key, "pilot-" + name)
           : std::unexpected(keys.error());
  const int64_t submitted_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
  json record = {{"name", name},
                 {"partition", placement.partition},
                 {"feature", placement.feature},
                 {"slots", o_.limits.slots},
                 {"submitted_ns", submitted_ns}};
  std::ofstream(dir + "/pilot.json") << record.dump() << "\n";
  if (ec || !added) {
    log_(true, "cannot prepare pilot " + name + ": " + (ec ? ec.message() : added.error()));
    revoke(name);
    retry_after_ = ScaleClock::now() + kRetryAfter;
    return;
  }
  PilotRequest req{name,
                   placement,
                   o_.limits.slots,
                   o_.time_limit_minutes,
                   o_.extra_options,
                   script(name, placement),
                   dir + "/slurm-%j.out"};
  auto id = provider_->submit(req);
  if (!id) {
    revoke(name);
    log_(true, "cannot submit a pilot (" + placement.text() + "): " + id.error().message);
    if (id.error().permanent) {
      refused_until_[placement] = ScaleClock::now() + kRefusedFor;
      std::lock_guard lock(mu_);
      refusals_.push_back({placement, id.error().message});
    } else {
      retry_after_ = ScaleClock::now() + kRetryAfter;
    }
    return;
  }
  Pilot p;
  p.info = {name,      provider_->engine(), *id,         "PENDING", "", "",
            placement, o_.limits.slots,     submitted_ns};
  p.submitted = ScaleClock::now();
  pilots_[name] = std::move(p);
  log_(false, "submitted pilot " + name + " as " + provider_->engine() + " job " + *id + " (" +
                  placement.text() + ", " + std::to_string(o_.limits.slots) + " slots)");
}

void Provisioner::cancel(Pilot& pilot) {
  if (pilot.cancelling) return;
  pilot.cancelling = true;
  if (auto r = provider_->cancel(pilot.info.job_id); !r)
    log_(true, "cannot cancel pilot " + pilot.info.name + ": " + r.error());
  else
    log_(false, "cancelled pilot " + pilot.info.name + " (" + provider_->engine() + " job " +
                    pilot.info.job_id + ")");
}

void Provisioner::revoke(const std::string& name) {
  (void)host::remove_key(dir_, "pilot-" + name);
  std::error_code ec;
  fs::remove_all(pilot_dir(name), ec);
}

}  // namespace shoal::broker::provision
