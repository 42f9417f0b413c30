// Staging a job's URL inputs before it is queued.
#include "broker/broker_impl.h"

namespace shoal::broker {

std::string Broker::input_host_path(const jobs::Job& job, const jobs::InputSpec& in) {
  if (!in.is_url()) return in.source;
  auto it = staged_paths_.find(job.id);
  if (it == staged_paths_.end()) return "";
  auto f = it->second.find(in.source);
  return f == it->second.end() ? "" : f->second;
}

void Broker::stage(jobs::Job& job) {
  set_state(job, jobs::JobState::failed, "URL inputs are not supported by this broker yet");
  save(job);
  notify(job);
}

void Broker::on_staged(std::vector<zmq::message_t>& parts) {
  (void)parts;
}

}  // namespace shoal::broker
