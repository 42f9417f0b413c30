// Staging a job's URL inputs before it is queued: each URL is fetched (or
// revalidated) through the URL cache on a thread of its own, which reports
// back to the loop through the `staged` socket. The job stays Pending until
// every URL is in the cache, and fails naming the URL when one cannot be had.
#include <thread>

#include "broker/broker_impl.h"
#include "host/url_cache.h"

namespace shoal::broker {

std::string Broker::input_host_path(const jobs::Job& job, const jobs::InputSpec& in) {
  if (!in.is_url()) return in.source;
  auto it = staged_paths_.find(job.id);
  if (it == staged_paths_.end()) return "";
  auto f = it->second.find(in.source);
  return f == it->second.end() ? "" : f->second;
}

void Broker::stage(jobs::Job& job) {
  for (const auto& in : job.spec.inputs) {
    if (!in.is_url()) continue;
    jobs_.note(job, "Input", "fetching " + in.source);
    fetch_queue_.push_back({job.id, in.source});
  }
  start_queued_fetches();
  jobs_.touch(job, false);
}

void Broker::start_queued_fetches() {
  while (fetches_running_ < kMaxFetches && !fetch_queue_.empty()) {
    auto [job_id, url] = std::move(fetch_queue_.front());
    fetch_queue_.pop_front();
    // A job stopped (or failed by another URL) meanwhile needs no more.
    const jobs::Job* job = jobs_.find(job_id);
    if (job && job->state == jobs::JobState::pending) start_fetch(job_id, url);
  }
}

void Broker::start_fetch(const std::string& id, const std::string& source) {
  if (!urls_) urls_ = std::make_unique<host::UrlCache>(opt_.dir.cache + "/urls");
  ++fetches_running_;
  auto finished = std::make_shared<std::atomic<bool>>(false);
  std::thread thread([this, finished, job_id = id, url = source] {
    zmq::socket_t push(ctx_, zmq::socket_type::push);
    push.set(zmq::sockopt::linger, 1000);
    push.connect("inproc://staged");
    host::FetchOptions options;
    options.cancel = &stopping_;
    options.max_bytes = opt_.input_bytes_cap;
    // Progress (about ten a second) goes to the clients watching the job.
    options.progress = [&](uint64_t done, std::optional<uint64_t> total) {
      push.send(zmq::buffer(job_id), zmq::send_flags::sndmore);
      push.send(zmq::buffer(url), zmq::send_flags::sndmore);
      push.send(zmq::str_buffer("progress"), zmq::send_flags::sndmore);
      push.send(zmq::buffer(std::to_string(done)), zmq::send_flags::sndmore);
      push.send(zmq::buffer(total ? std::to_string(*total) : std::string()), zmq::send_flags::none);
    };
    auto got = urls_->get_or_fetch(url, options);
    std::string status = got ? "ok" : "error";
    std::string detail = got ? got->path : got.error().message;
    std::string size = got ? std::to_string(got->size) : "0";
    push.send(zmq::buffer(job_id), zmq::send_flags::sndmore);
    push.send(zmq::buffer(url), zmq::send_flags::sndmore);
    push.send(zmq::buffer(status), zmq::send_flags::sndmore);
    push.send(zmq::buffer(detail), zmq::send_flags::sndmore);
    push.send(zmq::buffer(size), zmq::send_flags::none);
    push.close();
    *finished = true;
  });
  fetchers_.push_back({std::move(thread), std::move(finished)});
}

void Broker::join_finished_fetchers() {
  std::erase_if(fetchers_, [](Fetcher& f) {
    if (!*f.done) return false;
    f.thread.join();  // it has nothing left to do but return
    return true;
  });
}

void Broker::on_staged(std::vector<zmq::message_t>& parts) {
  if (parts.size() != 5) return;
  std::string job_id = parts[0].to_string(), url = parts[1].to_string();
  std::string status = parts[2].to_string(), detail = parts[3].to_string();
  if (status != "progress") {
    --fetches_running_;  // its thread is about to end: the next may start
    start_queued_fetches();
  }
  const jobs::Job* job = jobs_.find(job_id);
  if (!job || job->state != jobs::JobState::pending) return;
  if (status == "progress") {
    nlohmann::json body = {{"id", job_id}, {"url", url}, {"done", std::stoull(detail)}};
    if (!parts[4].to_string().empty()) body["total"] = std::stoull(parts[4].to_string());
    auto range = followers_.equal_range(job_id);
    for (auto f = range.first; f != range.second; ++f)
      if (f->second.states) reply(f->second.identity, "progress", body);
    return;
  }
  if (status != "ok") {
    jobs_.input_failed(job_id, "input " + detail);
    return;
  }
  auto& staged = staged_paths_[job_id];
  staged[url] = detail;
  bool all = true;
  for (const auto& in : job->spec.inputs)
    if (in.is_url() && !staged.contains(in.source)) all = false;
  jobs_.input_fetched(job_id, "fetched " + url + " (" + parts[4].to_string() + " bytes)", all);
}

}  // namespace shoal::broker
