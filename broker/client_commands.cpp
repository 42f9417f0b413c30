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

// The most job records one `list` reply reads: a filter that few jobs match
// costs the loop a bounded time per request; the reply's `next` goes on.
constexpr size_t kListReads = 10000;

std::string to_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) out += {kHex[c >> 4], kHex[c & 15]};
  return out;
}

std::optional<std::string> from_hex(std::string_view text) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (text.size() % 2) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = digit(text[i]), lo = digit(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

// A string field of `body`, "" when absent; an error naming it otherwise.
std::expected<std::string, std::string> text_field(const json& body, const char* field) {
  if (!body.contains(field)) return std::string();
  if (!body[field].is_string()) return std::unexpected(std::string(field) + " must be a string");
  return body[field].get<std::string>();
}

// A stop's or a re-run's reason, kept in the job's history: a string of at
// most kReasonMax bytes, refused (not cut) past it.
constexpr size_t kReasonMax = 4096;
std::expected<std::string, std::string> reason_field(const json& body, const char* command) {
  auto why = text_field(body, "reason");
  if (!why) return std::unexpected(std::string(command) + ": " + why.error());
  if (why->size() > kReasonMax)
    return std::unexpected(std::string(command) + ": reason is " + std::to_string(why->size()) +
                           " bytes; the most a job's history keeps is " +
                           std::to_string(kReasonMax));
  return why;
}

// The first of `switches` (space-separated field names) that the body
// holds with a value other than true or false, said with its value.
std::optional<std::string> not_a_switch(const json& body, std::string_view switches) {
  while (!switches.empty()) {
    const size_t space = switches.find(' ');
    const std::string field(switches.substr(0, space));
    switches = space == std::string_view::npos ? "" : switches.substr(space + 1);
    auto it = body.find(field);
    if (it != body.end() && !it->is_boolean()) {
      std::string value = it->dump();
      if (value.size() > 40) value = value.substr(0, 40) + "...";
      return field + " must be true or false, not " + value;
    }
  }
  return std::nullopt;
}

// The store's query of a `list` body (docs/protocol.md).
std::expected<ListQuery, std::string> list_query(const json& body) {
  ListQuery q;
  auto limit = jobs::whole_number(body, "limit", 10, SIZE_MAX, "the most there is");
  if (!limit) return std::unexpected(limit.error());
  q.limit = *limit == 0 ? SIZE_MAX : *limit;
  q.max_reads = kListReads;
  q.newest_first = !body.value("reversed", false);
  auto prefix = text_field(body, "id_prefix");
  auto name = text_field(body, "name");
  auto after = text_field(body, "after");
  for (auto* f : {&prefix, &name, &after})
    if (!*f) return std::unexpected(f->error());
  q.id_prefix = jobs::id_prefix(*prefix);
  q.name = *name;
  auto cursor = from_hex(*after);
  if (!cursor || (!cursor->empty() && cursor->size() <= 8))
    return std::unexpected("after: '" + names::printable(*after) +
                           "' is not a cursor of this broker (a list reply's next)");
  q.after = *cursor;
  if (body.contains("labels")) q.labels = body["labels"].get<std::map<std::string, std::string>>();
  if (body.contains("selector")) {
    auto selector = jobs::parse_selector(body["selector"].get<std::string>());
    if (!selector) return std::unexpected("labels: " + selector.error());
    q.selector = std::move(*selector);
  }
  for (const auto& s : body.value("states", json::array())) {
    auto state = s.is_string() ? jobs::parse_state(s.get<std::string>()) : std::nullopt;
    if (!state)
      return std::unexpected("states: " + s.dump() +
                             " is not a job state (Pending, Queued, Running, Completed, "
                             "Failed, Stopped)");
    q.states.push_back(*state);
  }
  return q;
}

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

void Broker::reply_about(const std::string& identity, std::string_view kind, const jobs::Job& job) {
  Outgoing o;
  o.identity = identity;
  o.kind = kind;
  o.body = jobs::to_json(job);
  o.job_id = job.id;
  outgoing_.push_back(std::move(o));
}

// In the order of protocol::Command (checked below).
const std::array<Broker::Handler, protocol::kCommands.size()> Broker::kHandlers{{
    &Broker::cmd_ping,
    &Broker::cmd_submit,
    &Broker::cmd_get,
    &Broker::cmd_list,
    &Broker::cmd_logs,
    &Broker::cmd_watch,
    &Broker::cmd_stop,
    &Broker::cmd_delete,
    &Broker::cmd_prune,
    &Broker::cmd_output,
    &Broker::cmd_shutdown,
    &Broker::cmd_nodes,
    &Broker::cmd_metrics,
    &Broker::cmd_rerun,
}};
static_assert(protocol::kCommands[1].command == protocol::Command::kSubmit &&
              protocol::kCommands[10].command == protocol::Command::kShutdown);

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
  const protocol::CommandInfo* info = protocol::find_command(command);
  if (!info || info->command != protocol::Command::kSubmit)
    if (auto f = jobs::field_with_nul(body)) {
      reply_error(identity, "malformed request: " + *f + " contains a NUL byte");
      return;
    }
  if (!info) {
    reply_error(identity, "unknown command '" + command.substr(0, 40) + "'");
    return;
  }
  if (auto bad = not_a_switch(body, info->switches)) {
    reply_error(identity, "malformed request: " + *bad);
    return;
  }
  try {
    Request request{identity, body, parts, std::nullopt, std::nullopt};
    if (info->reads_store) flush();
    if (info->takes_array && body.contains("id") && body["id"].is_string() &&
        (!info->array_when_asked || body.value("array", false)))
      request.array = find_array(body["id"].get<std::string>());
    if (info->needs_job && !request.array && !(request.job = find_job(identity, body))) return;
    (this->*kHandlers[static_cast<size_t>(info->command)])(request);
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
  if (const jobs::Job* active = jobs_.find(prefix)) return *active;
  flush();
  auto id = store_->resolve_id(prefix);
  if (!id) {
    reply_error(identity, id.error());
    return std::nullopt;
  }
  if (const jobs::Job* active = jobs_.find(*id)) return *active;
  auto job = store_->get_job(*id);
  if (!job || !*job) {
    reply_error(identity, job ? "no job matches '" + prefix + "'" : job.error());
    return std::nullopt;
  }
  return **job;
}

void Broker::cmd_ping(Request& r) {
  reply(r.identity, protocol::kOk,
        {{"pid", ::getpid()},
         {"workers", workers_.size()},
         {"max_module_bytes", opt_.max_module_bytes}});
}

void Broker::cmd_shutdown(Request& r) {
  reply(r.identity, protocol::kOk, json::object());
  shutting_down_ = true;
}

// The frames of a submission after its JSON body (docs/protocol.md): the
// module (empty when the body names it by module_sha256), stdin (absent or
// empty: none), then each import module and each inline input, in the
// spec's order. Parsed once; the errors say what is missing.
struct SubmitFrames {
  const zmq::message_t* module = nullptr;  // null: named by hash
  const zmq::message_t* stdin_ = nullptr;  // null: no stdin frame
  std::vector<const zmq::message_t*> import_modules;
  std::vector<const zmq::message_t*> inline_inputs;

  // `parts` is the whole request: [identity][protocol][command][body][frames...].
  static std::expected<SubmitFrames, std::string> parse(const std::vector<zmq::message_t>& parts,
                                                        const jobs::JobSpec& spec,
                                                        bool named_by_hash) {
    constexpr size_t kModule = 4, kStdin = 5, kFirstBlob = 6;
    SubmitFrames f;
    if (parts.size() > kModule && parts[kModule].size() > 0)
      f.module = &parts[kModule];
    else if (!named_by_hash)
      return std::unexpected(
          "invalid job: the module's bytes are missing (the frame after the JSON body)");
    const size_t blobs = spec.import_modules.size() + spec.inline_inputs.size();
    const size_t wanted = kFirstBlob + blobs;
    if ((blobs > 0 && parts.size() != wanted) || parts.size() > std::max(wanted, kFirstBlob))
      return std::unexpected("invalid job: expected " + std::to_string(wanted - kModule) +
                             " frames after the JSON body (the module, stdin, then each import "
                             "module and each inline input), got " +
                             std::to_string(parts.size() - kModule));
    if (parts.size() > kStdin) f.stdin_ = &parts[kStdin];
    for (size_t i = 0; i < spec.import_modules.size(); ++i)
      f.import_modules.push_back(&parts[kFirstBlob + i]);
    for (size_t i = 0; i < spec.inline_inputs.size(); ++i)
      f.inline_inputs.push_back(&parts[kFirstBlob + spec.import_modules.size() + i]);
    return f;
  }
};

std::optional<std::string> Broker::refuse_frames(const SubmitFrames& f, const jobs::JobSpec& spec) {
  // Sizes first: nothing of a frame over the limit is hashed or kept.
  auto too_large = [&](const zmq::message_t& frame,
                       const std::string& what) -> std::optional<std::string> {
    if (frame.size() <= opt_.max_module_bytes) return std::nullopt;
    return "invalid job: " + what + " is " + units::format_bytes(frame.size()) +
           ", more than the broker's limit of " + units::format_bytes(opt_.max_module_bytes) +
           " (shoal serve --max-module-size)";
  };
  std::optional<std::string> refused;
  if (f.module)
    refused = too_large(
        *f.module,
        "the module" + (spec.module_name.empty() ? std::string() : " " + spec.module_name));
  if (!refused && f.stdin_) refused = too_large(*f.stdin_, "stdin");
  for (size_t i = 0; !refused && i < f.import_modules.size(); ++i)
    refused = too_large(*f.import_modules[i], "import module " + spec.import_modules[i].name);
  for (size_t i = 0; !refused && i < f.inline_inputs.size(); ++i)
    refused = too_large(*f.inline_inputs[i], "inline input " + spec.inline_inputs[i].target);
  if (refused) return refused;
  auto is_wasm = [](const zmq::message_t& m) {
    return m.size() >= 8 && std::memcmp(m.data(), "\0asm", 4) == 0;
  };
  if (f.module && !is_wasm(*f.module))
    return "invalid job: " + (spec.module_name.empty() ? "the module" : spec.module_name) +
           " is not a WebAssembly module";
  for (size_t i = 0; i < f.import_modules.size(); ++i)
    if (!is_wasm(*f.import_modules[i]))
      return "invalid job: import module " + spec.import_modules[i].name +
             " is not a WebAssembly module";
  return std::nullopt;
}

std::string Broker::keep_blob(const zmq::message_t& frame, bool recurs) {
  // Modules recur (a client sending its module each time); stdin and
  // inline inputs seldom do.
  const std::string_view bytes(static_cast<const char*>(frame.data()), frame.size());
  std::string hash = recurs ? recent_modules_.sha256_of(bytes) : sha256_hex(bytes);
  if (!blob_known(hash)) batch_.put_blob(hash, std::string(bytes));
  return hash;
}

std::optional<std::string> Broker::check_inputs(const Origin& origin, jobs::JobSpec& spec) {
  for (auto& in : spec.inputs) {
    if (in.is_url()) continue;
    auto host = input_access_->check(origin, in.source);
    if (!host) return "invalid job: input " + in.source + ": " + host.error();
    in.source = std::move(*host);
  }
  return std::nullopt;
}

std::optional<std::string> Broker::keep_blobs(const SubmitFrames& frames, const std::string& named,
                                              jobs::JobSpec& spec) {
  spec.module_hash = frames.module ? keep_blob(*frames.module, true) : named;
  if (!named.empty() && named != spec.module_hash)
    return "invalid job: module_sha256 " + named +
           " does not match the module's bytes (their SHA-256 is " + spec.module_hash + ")";
  if (frames.stdin_ && frames.stdin_->size() > 0)
    spec.stdin_hash = keep_blob(*frames.stdin_, false);
  for (size_t i = 0; i < frames.import_modules.size(); ++i)
    spec.import_modules[i].hash = keep_blob(*frames.import_modules[i], true);
  for (size_t i = 0; i < frames.inline_inputs.size(); ++i) {
    spec.inline_inputs[i].size = frames.inline_inputs[i]->size();
    spec.inline_inputs[i].hash = keep_blob(*frames.inline_inputs[i], false);
  }
  return std::nullopt;
}

void Broker::cmd_submit(Request& r) {
  if (shutting_down_) return reply_error(r.identity, "the broker is shutting down");
  auto array = jobs::array_from_json(r.body);
  if (!array) return reply_error(r.identity, "invalid job: " + array.error());
  // An array's spec holds placeholders: each task's spec is checked.
  auto spec = jobs::spec_from_json(r.body, !*array);
  if (!spec) return reply_error(r.identity, "invalid job: " + spec.error());
  if (r.body.contains("watch") && !r.body["watch"].is_boolean())
    return reply_error(r.identity, "invalid job: watch must be true or false");
  // The module: its bytes, or its SHA-256 alone when the store has it (a
  // client submitting one module many times sends it once).
  std::string named;
  if (r.body.contains("module_sha256") && r.body["module_sha256"].is_string())
    named = r.body["module_sha256"].get<std::string>();
  auto frames = SubmitFrames::parse(r.parts, *spec, !named.empty());
  if (!frames) return reply_error(r.identity, frames.error());
  if (!frames->module && !blob_known(named))
    return reply_error(r.identity, "invalid job: no module with module_sha256 " + named +
                                       " is stored; send the module's bytes (the frame after "
                                       "the JSON body)");
  if (auto refused = refuse_frames(*frames, *spec)) return reply_error(r.identity, *refused);
  const std::string id = jobs::new_job_id();
  auto jobs = submitted_jobs(*spec, *array, id);
  if (!jobs) return reply_error(r.identity, "invalid job: " + jobs.error());
  // Who may name which host paths (broker/input_access.h), checked before
  // any byte of the submission is kept.
  const Origin origin = origin_of(r.parts[1]);
  for (auto& job : *jobs)
    if (auto refused = check_inputs(origin, job.spec)) return reply_error(r.identity, *refused);
  // The bytes travel once, whatever the number of jobs: each refers to
  // them by hash.
  if (auto refused = keep_blobs(*frames, named, *spec)) return reply_error(r.identity, *refused);
  for (auto& job : *jobs) {
    job.spec.module_hash = spec->module_hash;
    job.spec.stdin_hash = spec->stdin_hash;
    job.spec.import_modules = spec->import_modules;
    job.spec.inline_inputs = spec->inline_inputs;
  }
  submit_jobs(r, id, std::move(*jobs), array->has_value());
}

void Broker::submit_jobs(Request& r, const std::string& id, std::vector<jobs::Job> jobs,
                         bool array) {
  // Sent after the batch commits (finish_commit), so an acknowledged job is
  // durable; a failed commit turns it into an error. All of an array's
  // tasks are in this batch, hence in one commit.
  Outgoing ack;
  ack.identity = r.identity;
  ack.kind = protocol::kOk;
  ack.body = {{"id", id}, {"submitted", true}};
  if (array) {
    ack.body["array"] = true;
    ack.body["tasks"] = jobs.size();
    arrays_.emplace(id, ArrayProgress(id));
  }
  metrics_.submitted(jobs::now_ns(), jobs.size());
  for (auto& job : jobs) {
    ack.acknowledges.push_back(job.id);
    jobs::Job& added = jobs_.submit(std::move(job));
    if (added.state == jobs::JobState::pending) stage(added);
  }
  outgoing_.push_back(std::move(ack));
  // Submitted and watched in one request: the end follows the ok, since
  // replies keep their order and leave after the commit that holds the
  // submission (a commit that fails drops both the follower and any end:
  // finish_commit). An array's watcher gets its summaries as `state`s.
  if (r.body.value("watch", false)) followers_.insert({id, Follower{r.identity, false, 3, array}});
}

void Broker::cmd_get(Request& r) {
  if (r.array) {
    auto a = array_progress(*r.array);
    if (!a) return reply_error(r.identity, a.error());
    json summary = (*a)->summary();
    // Kept only while someone follows it or tasks are unfinished.
    if ((*a)->finished() && !followers_.contains(*r.array)) arrays_.erase(*r.array);
    return reply(r.identity, protocol::kOk, std::move(summary));
  }
  reply(r.identity, protocol::kOk, jobs::to_json(*r.job));
}

void Broker::cmd_list(Request& r) {
  auto q = list_query(r.body);
  if (!q) return reply_error(r.identity, q.error());
  auto typed = text_field(r.body, "array");
  if (!typed) return reply_error(r.identity, typed.error());
  if (!typed->empty()) {
    auto array = find_array(*typed);
    if (!array) return reply_error(r.identity, "no job array matches '" + *typed + "'");
    q->id_prefix = *array + "-";
  }
  auto jobs = store_->list_jobs(*q);
  if (!jobs) return reply_error(r.identity, jobs.error());
  json out = json::array();
  for (auto& j : jobs->jobs) {
    const jobs::Job* active = jobs_.find(j.id);
    out.push_back(jobs::to_json(active ? *active : j));
  }
  json skipped = json::array();
  for (const Damage& d : jobs->skipped) skipped.push_back({{"key", d.key}, {"error", d.why}});
  reply(r.identity, protocol::kOk,
        {{"jobs", out}, {"skipped", skipped}, {"next", to_hex(jobs->next)}});
}

namespace {

// The attempt number of the job's execution that `id` names (the whole id
// or a prefix of only one); the error names the job's executions.
std::expected<uint32_t, std::string> execution_attempt(const jobs::Job& job,
                                                       const std::string& id) {
  std::vector<const jobs::Execution*> matches;
  std::string known;
  for (const auto& e : job.executions) {
    known += (known.empty() ? "" : ", ") + e.id;
    if (!id.empty() && e.id.starts_with(id)) matches.push_back(&e);
  }
  if (matches.size() == 1) return matches.front()->attempt;
  return std::unexpected("job " + job.id +
                         (matches.empty() ? " has no execution '" : ": execution '") +
                         names::printable(id) + (matches.empty() ? "' (" : "' is ambiguous (") +
                         (known.empty() ? "it has not run yet" : "its executions: " + known) + ")");
}

}  // namespace

void Broker::cmd_logs(Request& r) {
  std::string stream = r.body.value("stream", "all");
  if (stream != "all" && stream != "stdout" && stream != "stderr")
    return reply_error(
        r.identity, "stream must be stdout, stderr or all, not '" + names::printable(stream) + "'");
  LogReader reader;
  reader.identity = r.identity;
  reader.job_id = r.job->id;
  reader.mask = stream == "stdout" ? 1 : stream == "stderr" ? 2 : 3;
  // Only the latest execution's output (a retried job would repeat
  // itself), or the one named by `execution` (its id or a unique prefix).
  reader.attempt = static_cast<uint32_t>(r.job->executions.size());
  reader.follow = r.body.value("follow", false);
  if (r.body.contains("execution")) {
    auto attempt = execution_attempt(*r.job, r.body.at("execution").get<std::string>());
    if (!attempt) return reply_error(r.identity, attempt.error());
    // Only the latest execution can still be writing.
    reader.follow = reader.follow && *attempt == reader.attempt;
    reader.attempt = *attempt;
  }
  // From now: what was written before is skipped, chunks still waiting in
  // the batch included (committed here, so that they go only to earlier
  // readers).
  if (r.body.value("from_now", false)) {
    flush();
    return end_or_follow(reader);
  }
  // A log that fits in one slice is answered in this turn, like any reply.
  if (!pump(reader)) log_readers_.push_back(std::move(reader));
}

std::optional<bool> Broker::send_log_slice(LogReader& r) {
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
}

bool Broker::pump(LogReader& r) {
  auto last = send_log_slice(r);
  if (!last) return true;
  if (!*last) return false;  // more next turn, once the client took these
  // The store holds no more; chunks that wait in the batch are committed
  // and sent too, and then nothing can come between them and what follows.
  flush();
  last = send_log_slice(r);
  if (!last) return true;
  if (!*last) return false;
  end_or_follow(r);
  return true;
}

void Broker::end_or_follow(const LogReader& r) {
  // Everything is sent: either the job's end, or live chunks from now on.
  const jobs::Job* job = jobs_.find(r.job_id);
  std::optional<jobs::Job> stored;
  if (!job)
    if (auto got = store_->get_job(r.job_id); got && *got) {
      stored = std::move(**got);
      job = &*stored;
    }
  if (!job)
    return reply_error(r.identity, "job " + r.job_id + " was deleted while its logs were read");
  if (r.follow && !jobs::is_terminal(job->state))
    return void(followers_.insert({job->id, Follower{r.identity, true, r.mask, false}}));
  reply_about(r.identity, protocol::kEnd, *job);
}

void Broker::pump_log_readers() {
  for (auto it = log_readers_.begin(); it != log_readers_.end();) {
    // A client that has not taken the last slice gets no more yet.
    if (replies_.waiting(it->identity)) {
      ++it;
      continue;
    }
    it = pump(*it) ? log_readers_.erase(it) : std::next(it);
  }
}

void Broker::forget_client(const std::string& identity) {
  replies_.forget(identity);
  log_readers_.remove_if([&](const LogReader& r) { return r.identity == identity; });
  std::erase_if(followers_, [&](const auto& f) { return f.second.identity == identity; });
}

void Broker::cmd_watch(Request& r) {
  if (r.array) return watch_array(r);
  if (jobs::is_terminal(r.job->state)) return reply_about(r.identity, protocol::kEnd, *r.job);
  Follower f{r.identity, r.body.value("logs", false), 3, r.body.value("states", true)};
  if (f.states) reply_about(r.identity, protocol::kState, *r.job);
  followers_.insert({r.job->id, f});
}

void Broker::cmd_stop(Request& r) {
  auto reason = reason_field(r.body, "stop");
  if (!reason) return reply_error(r.identity, reason.error());
  const std::string why = *reason;
  if (r.array) return stop_array(r, why);
  auto job = jobs_.request_stop(r.job->id, why);
  if (!job)
    return reply_error(r.identity, "job " + r.job->id + " is already " +
                                       std::string(jobs::state_name(r.job->state)));
  if (job->state == jobs::JobState::running) stop_on_worker(job->id);
  reply(r.identity, protocol::kOk, jobs::to_json(*job));
}

void Broker::cmd_rerun(Request& r) {
  if (shutting_down_) return reply_error(r.identity, "the broker is shutting down");
  auto why = reason_field(r.body, "rerun");
  if (!why) return reply_error(r.identity, why.error());
  const bool was_running = r.job->state == jobs::JobState::running;
  auto job = jobs_.rerun(*r.job, *why);
  if (!job) return reply_error(r.identity, job.error());
  if (was_running) {
    stop_on_worker(job->id);
  } else if (job->state == jobs::JobState::pending) {
    if (jobs::Job* live = jobs_.find(job->id)) stage(*live);
  }
  // Answered after the commit that holds the re-run (finish_commit); a
  // finished job's re-run that could not be stored is an error, the job
  // finished as before.
  Outgoing ack;
  ack.identity = r.identity;
  ack.kind = protocol::kOk;
  ack.body = jobs::to_json(*job);
  if (!was_running) ack.acknowledges.push_back(job->id);
  outgoing_.push_back(std::move(ack));
}

void Broker::stop_on_worker(const std::string& id) {
  for (auto& [name, w] : workers_)
    for (const InHand& run : w.runs)
      if (run.job_id == id) send_to_worker(name, wire::kStop, run.exec_id);
}

void Broker::cmd_delete(Request& r) {
  if (!jobs::is_terminal(r.job->state))
    return reply_error(r.identity, "job " + r.job->id + " is " +
                                       std::string(jobs::state_name(r.job->state)) +
                                       "; stop it first (shoal job stop " + r.job->id + ")");
  batch_.delete_job(r.job->id);
  reply(r.identity, protocol::kOk, {{"id", r.job->id}, {"deleted", true}});
}

void Broker::cmd_prune(Request& r) {
  double older = r.body.value("older_than_s", -1.0);
  // Seconds as a double; past about 292 years the nanoseconds would not
  // fit the clock's integer.
  if (!(older >= 0 && older <= 9e9))
    return reply_error(r.identity, "prune needs older_than_s, seconds from 0 to 9000000000");
  int64_t before = jobs::now_ns() - static_cast<int64_t>(older * 1e9);
  auto ids = store_->finished_before(before);
  if (!ids) return reply_error(r.identity, ids.error());
  for (const auto& id : *ids) batch_.delete_job(id);
  reply(r.identity, protocol::kOk, {{"deleted", ids->size()}});
}

void Broker::cmd_output(Request& r) {
  std::string name = r.body.value("name", ""), path = r.body.value("path", "");
  const bool ranged = r.body.contains("offset") || r.body.contains("length");
  auto offset = jobs::whole_number(r.body, "offset", 0, UINT64_MAX, "the most there is", "bytes");
  auto length = jobs::whole_number(r.body, "length", protocol::kOutputPart, UINT64_MAX,
                                   "the most there is", "bytes");
  if (!offset || !length) return reply_error(r.identity, !offset ? offset.error() : length.error());
  if (*length == 0 || *length > protocol::kOutputPart)
    return reply_error(r.identity, "length " + std::to_string(*length) + " is not from 1 to " +
                                       std::to_string(protocol::kOutputPart) +
                                       ", the most one output reply carries");
  // A client that has not read its earlier replies gets no more bytes.
  if (const uint64_t held = replies_.held(r.identity); held > 0)
    return reply_error(r.identity, "this client has " + units::format_bytes(held) +
                                       " of replies it has not read; read them before asking "
                                       "for more output");
  auto part = store_->get_output_part(r.job->id, name, path, *offset, *length);
  if (!part) return reply_error(r.identity, part.error());
  if (!*part)
    return reply_error(r.identity, "job " + r.job->id + " has no output file " +
                                       names::printable(name) + "/" + names::printable(path));
  if (!ranged && (*part)->size > protocol::kOutputPart)
    return reply_error(r.identity,
                       "output " + name + "/" + path + " is " + units::format_bytes((*part)->size) +
                           "; ask for it in parts of at most " +
                           units::format_bytes(protocol::kOutputPart) + " (offset and length)");
  reply(r.identity, protocol::kOk,
        {{"name", name}, {"path", path}, {"offset", *offset}, {"size", (*part)->size}},
        {std::move((*part)->bytes)});
}

}  // namespace shoal::broker
