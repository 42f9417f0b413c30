// The broker's side of the client protocol: one handler per command.

#include <algorithm>
#include <cstring>

#include "broker/broker_impl.h"
#include "protocol/client_protocol.h"
#include "protocol/constraints.h"
#include "protocol/job_json.h"
#include "protocol/names.h"
#include "protocol/sha256.h"
#include "protocol/units.h"
#include "protocol/worker_protocol.h"

namespace shoal::broker {
namespace {

using nlohmann::json;

}  // namespace

void Broker::reply(const std::string& identity, std::string_view kind, json body,
                   std::vector<std::string> frames) {
  Outgoing o;
  o.identity = identity;
  o.kind = kind;
  o.body = std::move(body);
  o.frames = std::move(frames);
  outgoing_.push_back(std::move(o));
}

void Broker::reply_error(const std::string& identity, const std::string& message) {
  reply(identity, protocol::kError, {{"error", message}});
}

void Broker::on_client_message(std::vector<zmq::message_t>& parts) {
  if (parts.empty()) return;
  std::string identity = parts[0].to_string();
  if (parts.size() < 3) {
    reply_error(identity, "malformed request: expected [protocol][command][body]");
    return;
  }
  std::string version = parts[1].to_string();
  if (version != protocol::kVersion) {
    reply_error(identity, "unsupported protocol '" + version.substr(0, 40) +
                              "' (this broker speaks " + protocol::kVersion + ")");
    return;
  }
  std::string command = parts[2].to_string();
  json body = json::object();
  if (parts.size() >= 4 && parts[3].size() > 0) {
    body = json::parse(parts[3].to_string(), nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      reply_error(identity, "malformed request: the body of '" + command.substr(0, 40) +
                                "' is not a JSON object");
      return;
    }
  }
  // A NUL byte inside a string would end it early wherever it is used (an
  // id, a name, a path): refused in any body (a submission's spec says so
  // itself, spec_from_json).
  if (command != "submit")
    if (auto f = jobs::field_with_nul(body)) {
      reply_error(identity, "malformed request: " + *f + " contains a NUL byte");
      return;
    }
  try {
    if (command == "ping") {
      reply(identity, protocol::kOk,
            {{"pid", ::getpid()},
             {"workers", workers_.size()},
             {"max_module_bytes", opt_.max_module_bytes}});
    } else if (command == "submit") {
      cmd_submit(identity, body, parts);
    } else if (command == "get") {
      cmd_get(identity, body);
    } else if (command == "list") {
      cmd_list(identity, body);
    } else if (command == "logs") {
      cmd_logs(identity, body);
    } else if (command == "watch") {
      cmd_watch(identity, body);
    } else if (command == "stop") {
      cmd_stop(identity, body);
    } else if (command == "delete") {
      cmd_delete(identity, body);
    } else if (command == "prune") {
      cmd_prune(identity, body);
    } else if (command == "output") {
      cmd_output(identity, body);
    } else if (command == "shutdown") {
      reply(identity, protocol::kOk, json::object());
      shutting_down_ = true;
    } else {
      reply_error(identity, "unknown command '" + command.substr(0, 40) + "'");
    }
  } catch (const json::exception& e) {
    reply_error(identity, "malformed request: " + std::string(e.what()));
  }
}

std::optional<jobs::Job> Broker::find_job(const std::string& identity, const json& body) {
  if (!body.contains("id") || !body["id"].is_string()) {
    reply_error(identity, "the request needs a job id");
    return std::nullopt;
  }
  const std::string prefix = jobs::id_prefix(body["id"].get<std::string>());
  // Unfinished jobs are the broker's newest truth; the store has the rest.
  if (auto it = active_.find(prefix); it != active_.end()) return it->second;
  flush();
  auto id = store_->resolve_id(prefix);
  if (!id) {
    reply_error(identity, id.error());
    return std::nullopt;
  }
  if (auto it = active_.find(*id); it != active_.end()) return it->second;
  auto job = store_->get_job(*id);
  if (!job || !*job) {
    reply_error(identity, job ? "no job matches '" + prefix + "'" : job.error());
    return std::nullopt;
  }
  return **job;
}

void Broker::cmd_submit(const std::string& identity, const json& body,
                        std::vector<zmq::message_t>& parts) {
  if (shutting_down_) {
    reply_error(identity, "the broker is shutting down");
    return;
  }
  auto spec = jobs::spec_from_json(body);
  if (!spec) {
    reply_error(identity, "invalid job: " + spec.error());
    return;
  }
  if (body.contains("watch") && !body["watch"].is_boolean()) {
    reply_error(identity, "invalid job: watch must be true or false");
    return;
  }
  // The module: its bytes, or its SHA-256 alone when the store has it (a
  // client submitting one module many times sends it once).
  std::string named;
  if (body.contains("module_sha256") && body["module_sha256"].is_string())
    named = body["module_sha256"].get<std::string>();
  const bool by_hash = (parts.size() < 5 || parts[4].size() == 0) && !named.empty();
  if (by_hash) {
    if (!blob_known(named)) {
      reply_error(identity, "invalid job: no module with module_sha256 " + named +
                                " is stored; send the module's bytes (the frame after the "
                                "JSON body)");
      return;
    }
  } else if (parts.size() < 5 || parts[4].size() == 0) {
    reply_error(identity,
                "invalid job: the module's bytes are missing (the frame after the JSON body)");
    return;
  }
  // Frames after the body: the module, stdin, the import modules, the
  // inline inputs (docs/protocol.md).
  const size_t wanted = 6 + spec->import_modules.size() + spec->inline_inputs.size();
  if ((spec->import_modules.size() + spec->inline_inputs.size() > 0 && parts.size() != wanted) ||
      parts.size() > std::max<size_t>(wanted, 6)) {
    reply_error(identity, "invalid job: expected " + std::to_string(wanted - 4) +
                              " frames after the JSON body (the module, stdin, then each import "
                              "module and each inline input), got " +
                              std::to_string(parts.size() - 4));
    return;
  }
  // Sizes first: nothing of a frame over the limit is hashed or kept.
  auto too_large = [&](const zmq::message_t& frame, const std::string& what) {
    if (frame.size() <= opt_.max_module_bytes) return false;
    reply_error(identity, "invalid job: " + what + " is " + units::format_bytes(frame.size()) +
                              ", more than the broker's limit of " +
                              units::format_bytes(opt_.max_module_bytes) +
                              " (shoal serve --max-module-size)");
    return true;
  };
  if (!by_hash &&
      too_large(parts[4], "the module" + (spec->module_name.empty() ? std::string()
                                                                    : " " + spec->module_name)))
    return;
  if (parts.size() >= 6 && too_large(parts[5], "stdin")) return;
  for (size_t i = 0; i < spec->import_modules.size(); ++i)
    if (too_large(parts[6 + i], "import module " + spec->import_modules[i].name)) return;
  for (size_t i = 0; i < spec->inline_inputs.size(); ++i)
    if (too_large(parts[6 + spec->import_modules.size() + i],
                  "inline input " + spec->inline_inputs[i].target))
      return;
  auto is_wasm = [](const zmq::message_t& m) {
    return m.size() >= 8 && std::memcmp(m.data(), "\0asm", 4) == 0;
  };
  if (!by_hash && !is_wasm(parts[4])) {
    reply_error(identity,
                "invalid job: " + (spec->module_name.empty() ? "the module" : spec->module_name) +
                    " is not a WebAssembly module");
    return;
  }
  for (size_t i = 0; i < spec->import_modules.size(); ++i) {
    if (!is_wasm(parts[6 + i])) {
      reply_error(identity, "invalid job: import module " + spec->import_modules[i].name +
                                " is not a WebAssembly module");
      return;
    }
  }
  // Who may name which host paths (broker/input_access.h), checked before
  // any byte of the submission is kept.
  const Origin origin = origin_of(parts[1]);
  for (auto& in : spec->inputs) {
    if (in.is_url()) continue;
    auto host = input_access_->check(origin, in.source);
    if (!host) {
      reply_error(identity, "invalid job: input " + in.source + ": " + host.error());
      return;
    }
    in.source = std::move(*host);
  }
  // Modules recur (a client sending its module each time); stdin and
  // inline inputs seldom do.
  auto keep = [&](const zmq::message_t& frame, bool recurs) {
    const std::string_view bytes(static_cast<const char*>(frame.data()), frame.size());
    std::string hash = recurs ? recent_modules_.sha256_of(bytes) : sha256_hex(bytes);
    if (!blob_known(hash)) batch_.put_blob(hash, std::string(bytes));
    return hash;
  };
  spec->module_hash = by_hash ? named : keep(parts[4], true);
  if (!named.empty() && named != spec->module_hash) {
    reply_error(identity, "invalid job: module_sha256 " + named +
                              " does not match the module's bytes (their SHA-256 is " +
                              spec->module_hash + ")");
    return;
  }
  if (parts.size() >= 6 && parts[5].size() > 0) spec->stdin_hash = keep(parts[5], false);
  for (size_t i = 0; i < spec->import_modules.size(); ++i)
    spec->import_modules[i].hash = keep(parts[6 + i], true);
  for (size_t i = 0; i < spec->inline_inputs.size(); ++i) {
    const auto& frame = parts[6 + spec->import_modules.size() + i];
    spec->inline_inputs[i].size = frame.size();
    spec->inline_inputs[i].hash = keep(frame, false);
  }
  jobs::Job job;
  job.id = jobs::new_job_id();
  job.spec = std::move(*spec);
  job.created_ns = jobs::now_ns();
  bool has_urls = false;
  for (const auto& in : job.spec.inputs) has_urls |= in.is_url();
  job.state = has_urls ? jobs::JobState::pending : jobs::JobState::queued;
  event(job, "Submission", "job submitted");
  event(job, "State", std::string(jobs::state_name(job.state)));
  save(job);
  std::string id = job.id;
  active_[id] = std::move(job);
  if (has_urls)
    stage(active_[id]);
  else
    queue_.push_back(id);
  // Sent after the batch commits (finish_commit), so an acknowledged job is
  // durable.
  reply(identity, protocol::kOk, {{"id", id}, {"submitted", true}});
  // Submitted and watched in one request: the end follows the ok, since
  // replies keep their order and leave after the commit that holds the
  // submission (a commit that fails drops both the follower and any end:
  // finish_commit).
  if (body.value("watch", false)) followers_.insert({id, Follower{identity, false, 3, false}});
}

void Broker::cmd_get(const std::string& identity, const json& body) {
  auto job = find_job(identity, body);
  if (job) reply(identity, protocol::kOk, jobs::to_json(*job));
}

void Broker::cmd_list(const std::string& identity, const json& body) {
  flush();
  ListQuery q;
  auto limit = jobs::whole_number(body, "limit", 10, SIZE_MAX, "the most there is");
  if (!limit) {
    reply_error(identity, limit.error());
    return;
  }
  q.limit = *limit;
  if (q.limit == 0) q.limit = SIZE_MAX;
  q.newest_first = !body.value("reversed", false);
  q.id_prefix = jobs::id_prefix(body.value("id_prefix", ""));
  if (body.contains("labels")) q.labels = body["labels"].get<std::map<std::string, std::string>>();
  if (body.contains("selector")) {
    auto selector = jobs::parse_selector(body["selector"].get<std::string>());
    if (!selector) {
      reply_error(identity, "labels: " + selector.error());
      return;
    }
    q.selector = std::move(*selector);
  }
  auto jobs = store_->list_jobs(q);
  if (!jobs) {
    reply_error(identity, jobs.error());
    return;
  }
  json out = json::array();
  for (auto& j : jobs->jobs) {
    auto it = active_.find(j.id);
    out.push_back(jobs::to_json(it != active_.end() ? it->second : j));
  }
  json skipped = json::array();
  for (const Damage& d : jobs->skipped) skipped.push_back({{"key", d.key}, {"error", d.why}});
  reply(identity, protocol::kOk, {{"jobs", out}, {"skipped", skipped}});
}

void Broker::cmd_logs(const std::string& identity, const json& body) {
  auto job = find_job(identity, body);
  if (!job) return;
  flush();
  std::string stream = body.value("stream", "all");
  if (stream != "all" && stream != "stdout" && stream != "stderr") {
    reply_error(identity,
                "stream must be stdout, stderr or all, not '" + names::printable(stream) + "'");
    return;
  }
  LogReader reader;
  reader.identity = identity;
  reader.job_id = job->id;
  reader.mask = stream == "stdout" ? 1 : stream == "stderr" ? 2 : 3;
  // Only the latest execution's output: a retried job would repeat itself.
  reader.attempt = static_cast<uint32_t>(job->executions.size());
  reader.follow = body.value("follow", false);
  // A log that fits in one slice is answered in this turn, like any reply.
  if (!pump(reader)) log_readers_.push_back(std::move(reader));
}

bool Broker::pump(LogReader& r) {
  // Sends the chunks after the reader's last, about a slice's worth; true
  // when that was all the store holds.
  auto send_slice = [&]() -> std::optional<bool> {
    auto chunks = store_->read_logs(r.job_id, r.after_seq, kLogSlice);
    if (!chunks) {
      reply_error(r.identity, chunks.error());
      return std::nullopt;
    }
    uint64_t bytes = 0;
    for (const auto& c : *chunks) {
      r.after_seq = c.seq;
      bytes += c.data.size();
      if (c.attempt != r.attempt || !(r.mask & static_cast<int>(c.stream))) continue;
      reply(r.identity, protocol::kLog,
            {{"stream", c.stream == Stream::stdout_ ? "stdout" : "stderr"}, {"attempt", r.attempt}},
            {c.data});
    }
    return bytes < kLogSlice;
  };
  auto last = send_slice();
  if (!last) return true;
  if (!*last) return false;  // more next turn, once the client took these
  // The store holds no more; chunks that wait in the batch are committed
  // and sent too, and then nothing can come between them and what follows.
  flush();
  last = send_slice();
  if (!last) return true;
  if (!*last) return false;
  // Everything is sent: either the job's end, or live chunks from now on.
  const jobs::Job* job = nullptr;
  std::optional<jobs::Job> stored;
  if (auto it = active_.find(r.job_id); it != active_.end()) {
    job = &it->second;
  } else if (auto got = store_->get_job(r.job_id); got && *got) {
    stored = std::move(**got);
    job = &*stored;
  }
  if (!job) {
    reply_error(r.identity, "job " + r.job_id + " was deleted while its logs were read");
    return true;
  }
  if (r.follow && !jobs::is_terminal(job->state)) {
    followers_.insert({job->id, Follower{r.identity, true, r.mask, false}});
    return true;
  }
  reply(r.identity, protocol::kEnd, jobs::to_json(*job));
  return true;
}

void Broker::pump_log_readers() {
  for (auto it = log_readers_.begin(); it != log_readers_.end();) {
    // A client that has not taken the last slice gets no more yet.
    if (backlogs_.contains(it->identity)) {
      ++it;
      continue;
    }
    it = pump(*it) ? log_readers_.erase(it) : std::next(it);
  }
}

void Broker::cmd_watch(const std::string& identity, const json& body) {
  auto job = find_job(identity, body);
  if (!job) return;
  if (jobs::is_terminal(job->state)) {
    reply(identity, protocol::kEnd, jobs::to_json(*job));
    return;
  }
  Follower f{identity, body.value("logs", false), 3, body.value("states", true)};
  if (f.states) reply(identity, protocol::kState, jobs::to_json(*job));
  followers_.insert({job->id, f});
}

void Broker::cmd_stop(const std::string& identity, const json& body) {
  auto found = find_job(identity, body);
  if (!found) return;
  auto it = active_.find(found->id);
  if (it == active_.end()) {
    reply_error(identity,
                "job " + found->id + " is already " + std::string(jobs::state_name(found->state)));
    return;
  }
  jobs::Job& job = it->second;
  if (job.state == jobs::JobState::running) {
    stop_requested_.insert(job.id);
    for (auto& [name, w] : workers_)
      if (w.job_id == job.id) send_to_worker(name, wire::kStop, w.exec_id);
    event(job, "State", "stop requested");
    save(job);
    reply(identity, protocol::kOk, jobs::to_json(job));
    return;
  }
  std::erase(queue_, job.id);
  set_state(job, jobs::JobState::stopped, "stopped on request");
  save(job);
  notify(job);
  reply(identity, protocol::kOk, jobs::to_json(job));
  staged_paths_.erase(job.id);
  active_.erase(it);
}

void Broker::cmd_delete(const std::string& identity, const json& body) {
  auto job = find_job(identity, body);
  if (!job) return;
  if (!jobs::is_terminal(job->state)) {
    reply_error(identity, "job " + job->id + " is " + std::string(jobs::state_name(job->state)) +
                              "; stop it first (shoal job stop " + job->id + ")");
    return;
  }
  batch_.delete_job(job->id);
  reply(identity, protocol::kOk, {{"id", job->id}, {"deleted", true}});
}

void Broker::cmd_prune(const std::string& identity, const json& body) {
  double older = body.value("older_than_s", -1.0);
  // Seconds as a double; past about 292 years the nanoseconds would not
  // fit the clock's integer.
  if (!(older >= 0 && older <= 9e9)) {
    reply_error(identity, "prune needs older_than_s, seconds from 0 to 9000000000");
    return;
  }
  flush();
  int64_t before = jobs::now_ns() - static_cast<int64_t>(older * 1e9);
  auto ids = store_->finished_before(before);
  if (!ids) {
    reply_error(identity, ids.error());
    return;
  }
  for (const auto& id : *ids) batch_.delete_job(id);
  reply(identity, protocol::kOk, {{"deleted", ids->size()}});
}

void Broker::cmd_output(const std::string& identity, const json& body) {
  auto job = find_job(identity, body);
  if (!job) return;
  std::string name = body.value("name", ""), path = body.value("path", "");
  const bool ranged = body.contains("offset") || body.contains("length");
  auto offset = jobs::whole_number(body, "offset", 0, UINT64_MAX, "the most there is", "bytes");
  auto length = jobs::whole_number(body, "length", protocol::kOutputPart, UINT64_MAX,
                                   "the most there is", "bytes");
  if (!offset || !length) {
    reply_error(identity, !offset ? offset.error() : length.error());
    return;
  }
  if (*length == 0 || *length > protocol::kOutputPart) {
    reply_error(identity, "length " + std::to_string(*length) + " is not from 1 to " +
                              std::to_string(protocol::kOutputPart) +
                              ", the most one output reply carries");
    return;
  }  // A client that has not read its earlier replies gets no more bytes.
  if (auto b = backlogs_.find(identity); b != backlogs_.end() && b->second.bytes > 0) {
    reply_error(identity, "this client has " + units::format_bytes(b->second.bytes) +
                              " of replies it has not read; read them before asking for more "
                              "output");
    return;
  }
  flush();
  auto part = store_->get_output_part(job->id, name, path, *offset, *length);
  if (!part) {
    reply_error(identity, part.error());
    return;
  }
  if (!*part) {
    reply_error(identity, "job " + job->id + " has no output file " + names::printable(name) + "/" +
                              names::printable(path));
    return;
  }
  if (!ranged && (*part)->size > protocol::kOutputPart) {
    reply_error(identity, "output " + name + "/" + path + " is " +
                              units::format_bytes((*part)->size) +
                              "; ask for it in parts of at most " +
                              units::format_bytes(protocol::kOutputPart) + " (offset and length)");
    return;
  }
  reply(identity, protocol::kOk,
        {{"name", name}, {"path", path}, {"offset", *offset}, {"size", (*part)->size}},
        {std::move((*part)->bytes)});
}

}  // namespace shoal::broker
