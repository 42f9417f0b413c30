// `shoal job ...`: list, logs, describe, get, stop, delete, prune,
// executions, history, wait.
#include <unistd.h>

#include <fmt/core.h>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "cli/array_view.h"
#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "cli/format.h"
#include "cli/job_view.h"
#include "cli/progress.h"
#include "cli/results.h"
#include "client/client.h"
#include "protocol/client_protocol.h"
#include "protocol/units.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

// The broker (its socket or the REST API, cli/backend.h) and the job that
// `id` names.
struct JobSession {
  std::unique_ptr<Backend> client;
  json job;
};

std::expected<JobSession, std::string> open_job(const std::string& id) {
  auto c = open_backend();
  if (!c) return std::unexpected(c.error());
  auto j = (*c)->describe(id);
  if (!j) return std::unexpected(j.error());
  return JobSession{std::move(*c), std::move(*j)};
}

client::Stream stream_named(const std::string& name) {
  return name == "stdout"   ? client::Stream::stdout_only
         : name == "stderr" ? client::Stream::stderr_only
                            : client::Stream::all;
}

// Keeps the last n lines of `data`.
std::string last_lines(const std::string& data, size_t n) {
  if (n == 0) return "";
  size_t end = data.size();
  if (end && data[end - 1] == '\n') --end;
  size_t pos = end;
  size_t lines = 0;
  while (pos > 0) {
    if (data[pos - 1] == '\n' && ++lines == n) break;
    --pos;
  }
  return data.substr(pos);
}

// The jobs of `shoal job list` in `format`.
void print_jobs(const json& jobs, Format format, bool wide, bool hide_header, bool pretty) {
  if (format == Format::json || format == Format::yaml)
    return (void)fmt::print(
        "{}", render_structured(bacalhau_view(jobs, ModelView::list), format, pretty));
  std::vector<std::string> header = {"CREATED", "ID", "NAME", "JOB", "TYPE", "STATE"};
  if (wide) header.insert(header.end(), {"EXIT", "MESSAGE"});
  std::vector<std::vector<std::string>> rows;
  for (const auto& j : jobs) {
    std::string id = j["id"];
    std::vector<std::string> row = {local_time(j["created"]),
                                    wide || format == Format::csv ? id : short_id(id),
                                    j["name"],
                                    "wasm",
                                    "batch",
                                    j["state"]};
    if (wide)
      row.insert(row.end(), {j["exit_code"].is_null() ? "" : j["exit_code"].dump(), j["message"]});
    rows.push_back(row);
  }
  fmt::print("{}", format == Format::csv ? render_csv(header, rows, hide_header)
                                         : render_table(header, rows, hide_header));
}

// Bacalhau's hint after a page that is not the last, with the flags that
// select the same jobs in the same order.
void print_next_hint(size_t limit, const std::string& next, bool reversed,
                     const std::vector<std::string>& labels, const std::string& id_filter) {
  std::string flags = fmt::format("--limit {} --next-token {}", limit, next);
  if (reversed) flags += " --order-reversed";
  for (const auto& l : labels) flags += " --labels '" + l + "'";
  if (!id_filter.empty()) flags += " --id-filter " + id_filter;
  fmt::print(stderr, "\nTo fetch more records use:\n\tshoal job list {}\n", flags);
}

// `job list --order-by id`: the jobs sorted by id, at most `limit` (0: all).
json by_id(std::vector<json> jobs, bool reversed, size_t limit) {
  std::sort(jobs.begin(), jobs.end(), [&](const json& a, const json& b) {
    return reversed ? a["id"] > b["id"] : a["id"] < b["id"];
  });
  if (limit && jobs.size() > limit) jobs.resize(limit);
  return jobs;
}

// `shoal job list`.
void add_job_list(CLI::App& job, int& status) {
  auto* cmd = job.add_subcommand("list", "List jobs, oldest first (as Bacalhau's)");
  struct Opts {
    std::string id_filter, order_by = "created_at", output = "table", next_token;
    size_t limit = 10;
    bool reversed = false, hide_header = false, wide = false, no_style = false, pretty = false;
    std::vector<std::string> labels;
    std::string array;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--id-filter", o->id_filter, "Only jobs whose id starts with this");
  auto* array = cmd->add_option("--array", o->array,
                                "Only the tasks of this job array, in index order (all of them "
                                "unless --limit is given)");
  cmd->add_option("--limit", o->limit, "At most this many jobs (0: all)")->capture_default_str();
  cmd->add_option("--next-token", o->next_token,
                  "Go on where an earlier list stopped (the token it printed)");
  cmd->add_option("--order-by", o->order_by, "created_at or id")
      ->check(CLI::IsMember({"created_at", "id"}))
      ->capture_default_str();
  cmd->add_flag("--order-reversed", o->reversed, "Reverse the order: newest first");
  cmd->add_option("-l,--labels", o->labels,
                  "Only jobs whose labels match this selector: env=prod, env!=dev, env, !env, "
                  "env in (a,b), env notin (a,b)")
      ->allow_extra_args(false);
  cmd->add_option("--output", o->output, "table, csv, json or yaml")->capture_default_str();
  cmd->add_flag("--hide-header", o->hide_header, "No header row");
  cmd->add_flag("--wide", o->wide, "Full ids and more columns");
  cmd->add_flag("--no-style", o->no_style, "Plain output (the default off a terminal)");
  add_pretty_flag(*cmd, o->pretty);
  auto* limit = cmd->get_option("--limit");
  cmd->callback([&status, o, array, limit] {
    auto fmt_ = parse_format(o->output, {Format::table, Format::csv, Format::json, Format::yaml});
    if (!fmt_) return (void)(status = fail(fmt_.error()));
    if (o->order_by == "id" && !o->next_token.empty())
      return (void)(status = fail(
                        "--next-token pages the creation order; --order-by id lists every job"));
    auto c = open_backend();
    if (!c) return (void)(status = fail(c.error()));
    client::ListQuery q;
    q.limit = o->order_by == "id" ? 0 : o->limit;
    q.oldest_first = !o->reversed;
    q.id_prefix = o->id_filter;
    q.after = o->next_token;
    if (array->count()) {
      q.array = o->array;
      if (!limit->count()) q.limit = 0;
    }
    // Bacalhau's --labels is a label selector; several flags are ANDed.
    for (const auto& l : o->labels) q.selector += (q.selector.empty() ? "" : ",") + l;
    auto r = (*c)->page(q);
    if (!r) {
      status = fail(r.error().starts_with("after:")
                        ? "--next-token " + o->next_token + " is not a token of `shoal job list`"
                        : r.error());
      return;
    }
    // Damaged records are named, never silently left out of the list.
    if (!r->skipped.empty()) {
      fmt::print(stderr, "shoal: {} damaged store record{} skipped (run `shoal doctor`):\n",
                 r->skipped.size(), r->skipped.size() == 1 ? "" : "s");
      for (const auto& s : r->skipped) fmt::print(stderr, "  {}\n", s);
    }
    json jobs = o->order_by == "id" ? by_id(r->jobs, o->reversed, o->limit) : json(r->jobs);
    status = 0;
    print_jobs(jobs, *fmt_, o->wide, o->hide_header, o->pretty);
    if (!r->next.empty() && o->order_by != "id")
      print_next_hint(o->limit, r->next, o->reversed, o->labels, o->id_filter);
  });
}

// `shoal job logs`'s options. Bacalhau's -t/--tail is a switch; shoal's
// takes a count as well: --tail alone is the last 10 lines of each stream,
// --tail N the last N (docs/jobs.md, "Bacalhau's flags").
struct LogsOpts {
  std::string id, stream = "all", execution, tail_text;
  bool follow = false;
  CLI::Option* tail = nullptr;
};

inline constexpr size_t kTailDefaultLines = 10;

// The lines --tail asks for, or nullopt without --tail. `--tail ID`
// (Bacalhau's switch written before the id) leaves the id in the tail's
// place: it is taken as the id.
std::expected<std::optional<size_t>, std::string> tail_lines(LogsOpts& o) {
  if (o.tail->count() == 0) return std::nullopt;
  const std::string& t = o.tail_text;
  if (t.empty()) return kTailDefaultLines;
  if (t.size() <= 9 && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::stoul(t);
  if (o.id.empty()) {
    o.id = t;
    return kTailDefaultLines;
  }
  return std::unexpected("--tail " + t +
                         ": expected a number of lines (up to 999999999), or --tail alone for "
                         "the last " +
                         std::to_string(kTailDefaultLines));
}

// Prints the last `lines` lines of each stream; with --follow, then what
// the job writes until it ends (the bytes already read are skipped).
std::expected<json, std::string> print_tail(Backend& c, const LogsOpts& o, size_t lines) {
  std::string out, err;
  auto end = c.logs(
      o.id, stream_named(o.stream), false,
      [&](const std::string& stream, const std::string& data) {
        (stream == "stderr" ? err : out) += data;
      },
      o.execution);
  if (!end) return end;
  const std::string out_tail = last_lines(out, lines), err_tail = last_lines(err, lines);
  std::fwrite(out_tail.data(), 1, out_tail.size(), stdout);
  std::fwrite(err_tail.data(), 1, err_tail.size(), stderr);
  std::fflush(stdout);
  const std::string state = end->value("state", "");
  if (!o.follow || state == "Completed" || state == "Failed" || state == "Stopped") return end;
  size_t skip_out = out.size(), skip_err = err.size();
  return c.logs(
      o.id, stream_named(o.stream), true,
      [&](const std::string& stream, const std::string& data) {
        size_t& skip = stream == "stderr" ? skip_err : skip_out;
        const size_t n = std::min(skip, data.size());
        skip -= n;
        if (n < data.size()) write_chunk(stream, data.substr(n));
      },
      o.execution);
}

// The job array `typed` names over the broker's socket, or nothing (a job,
// nothing at all, or only the REST API at hand).
std::optional<std::string> array_of(const std::string& typed) {
  auto c = connect();
  if (!c) return std::nullopt;
  return array_named(*c, typed);
}

// `shoal job logs ARRAY`: each task's output in index order, each after a
// header, "==> j-...-17 (Completed, exit code 0) <==" (a blank line before
// every header but the first), on stdout (on stderr with --stream stderr),
// --tail applying to each task. --follow and --execution-id name one
// job's stream: refused, naming the task form.
int print_array_logs(const LogsOpts& o, const std::string& array, std::optional<size_t> lines) {
  if (o.follow || !o.execution.empty())
    return fail(
        fmt::format("{} is a job array: {} names one job's stream; name a task: shoal "
                    "job logs {} {}-INDEX",
                    array, o.follow ? "--follow" : "--execution-id",
                    o.follow ? "--follow" : "-e EXECUTION", array));
  auto c = connect();
  if (!c) return fail(c.error());
  client::ListQuery q;
  q.limit = 0;
  q.oldest_first = true;
  q.array = array;
  auto tasks = c->list(q);
  if (!tasks) return fail(tasks.error());
  FILE* headers = o.stream == "stderr" ? stderr : stdout;
  bool first = true;
  for (const json& t : *tasks) {
    const std::string id = t.value("id", ""), state = t.value("state", "");
    std::string how = state;
    if (t.contains("exit_code") && t["exit_code"].is_number())
      how += ", exit code " + t["exit_code"].dump();
    std::fflush(stdout);
    fmt::print(headers, "{}==> {} ({}) <==\n", first ? "" : "\n", id, how);
    std::fflush(headers);
    first = false;
    std::string out, err;
    auto end = c->logs(id, stream_named(o.stream), false,
                       [&](const std::string& stream, const std::string& data) {
                         (stream == "stderr" ? err : out) += data;
                       });
    if (!end) return fail(id + ": " + end.error());
    if (lines) out = last_lines(out, *lines), err = last_lines(err, *lines);
    write_chunk("stdout", out);
    write_chunk("stderr", err);
  }
  std::fflush(stdout);
  return 0;
}

// `shoal job logs`.
void add_job_logs(CLI::App& job, int& status) {
  auto* cmd =
      job.add_subcommand("logs", "Print a job's output: stdout to stdout, stderr to stderr");
  auto o = std::make_shared<LogsOpts>();
  cmd->add_option("id", o->id, "Job id (any unique prefix)");
  cmd->add_flag("-f,--follow", o->follow, "Keep printing until the job ends");
  o->tail = cmd->add_option("-t,--tail", o->tail_text,
                            "Only the last lines of each stream: 10, or --tail N for N (then, "
                            "with -f, what follows)")
                ->expected(0, 1)
                ->type_name("[N]");
  cmd->add_option("-e,--execution-id", o->execution,
                  "The logs of this execution (its id or a unique prefix; default: the latest, "
                  "see shoal job executions ID)");
  cmd->add_option("--stream", o->stream, "stdout, stderr or all")
      ->check(CLI::IsMember({"stdout", "stderr", "all"}))
      ->capture_default_str();
  cmd->callback([&status, o] {
    auto lines = tail_lines(*o);
    if (!lines) return (void)(status = fail(lines.error()));
    if (o->id.empty()) return (void)(status = fail("job logs: a job id is required"));
    auto c = open_backend();
    if (!c) return (void)(status = fail(c.error()));
    auto end =
        *lines ? print_tail(**c, *o, **lines)
               : (*c)->logs(o->id, stream_named(o->stream), o->follow, write_chunk, o->execution);
    if (!end) {
      // An id that names no one job may name an array (nothing was printed).
      if (auto array = array_of(o->id))
        return (void)(status = print_array_logs(*o, *array, *lines));
      return (void)(status = fail(end.error()));
    }
    std::fflush(stdout);
    say_what_was_cut(*end, stream_named(o->stream), false);
    status = 0;
  });
}

// `shoal job describe ARRAY`: the array's summary (describe_array), or in
// JSON or YAML the summary as the protocol gives it; `not_a_job` is said
// when `typed` names no array either (or only the REST API is at hand).
int describe_array_named(const std::string& typed, const std::string& output, bool pretty,
                         const std::string& not_a_job) {
  auto c = connect();
  if (!c) return fail(not_a_job);
  auto summary = c->describe_array(typed);
  if (!summary) return fail(not_a_job);
  if (output == "human")
    fmt::print("{}", describe_array(*summary));
  else
    fmt::print("{}",
               render_structured(*summary, output == "json" ? Format::json : Format::yaml, pretty));
  return 0;
}

// `shoal job describe`.
void add_job_describe(CLI::App& job, int& status) {
  auto* cmd = job.add_subcommand("describe", "Show a job: its spec, state, history and executions");
  auto id = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>("human");
  auto pretty = std::make_shared<bool>(false);
  cmd->add_option("id", *id, "Job id (any unique prefix)")->required();
  cmd->add_option("--output", *output, "human, or json or yaml (Bacalhau's model)")
      ->check(CLI::IsMember({"human", "json", "yaml"}))
      ->capture_default_str();
  add_pretty_flag(*cmd, *pretty);
  cmd->callback([&status, id, output, pretty] {
    auto s = open_job(*id);
    if (!s) {
      status = describe_array_named(*id, *output, *pretty, s.error());
      return;
    }
    status = 0;
    if (*output != "human")
      return (void)fmt::print(
          "{}", render_structured(bacalhau_view(s->job, ModelView::describe),
                                  *output == "json" ? Format::json : Format::yaml, *pretty));
    std::string head;
    (void)s->client->logs(s->job["id"], client::Stream::stdout_only, false,
                          [&](const std::string&, const std::string& data) {
                            if (head.size() < 2048) head += data;
                          });
    fmt::print("{}", describe_job(s->job, head));
  });
}

// `shoal job executions` and `shoal job history` (`what`): one list of a job.
// Bacalhau's list flags: --hide-header, --no-style and --wide are accepted
// (shoal's tables are plain and show every column already), --limit keeps
// the first N rows and says on stderr how many it left out.
void add_job_list_of(CLI::App& job, int& status, const std::string& what) {
  auto* sub = job.add_subcommand(
      what, what == "executions" ? "List a job's executions" : "Show a job's history of events");
  struct Opts {
    std::string id, output = "table";
    bool hide_header = false, no_style = false, wide = false, pretty = false;
    size_t limit = 0;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("id", o->id, "Job id (any unique prefix)")->required();
  sub->add_option("--output", o->output, "table, csv, json or yaml")->capture_default_str();
  sub->add_flag("--hide-header", o->hide_header, "No header row");
  sub->add_flag("--no-style", o->no_style, "Plain output (shoal's tables always are)");
  sub->add_flag("--wide", o->wide, "Every column (shoal's tables always show them)");
  sub->add_option("--limit", o->limit, "At most this many rows (0: all)")->capture_default_str();
  add_pretty_flag(*sub, o->pretty);
  sub->callback([&status, o, what] {
    auto f = parse_format(o->output, {Format::table, Format::csv, Format::json, Format::yaml});
    if (!f) {
      status = fail(f.error());
      return;
    }
    auto s = open_job(o->id);
    if (!s) {
      // An array has no executions or history of its own: its tasks do.
      if (auto array = array_of(o->id))
        status = fail(fmt::format(
            "{} is a job array: each task has its own {}: shoal job {} {}-INDEX (its tasks: "
            "shoal job list --array {})",
            *array, what, what, *array, *array));
      else
        status = fail(s.error());
      return;
    }
    status = 0;
    const json& j = s->job;
    json list = what == "executions" ? j["executions"] : j["history"];
    const size_t total = list.size();
    if (o->limit && total > o->limit) {
      list.erase(list.begin() + static_cast<long>(o->limit), list.end());
      fmt::print(stderr, "shoal: showing {} of {} {} (--limit; --limit 0 shows all)\n", o->limit,
                 total, what == "executions" ? "executions" : "events");
    }
    json shown = j;
    shown[what == "executions" ? "executions" : "history"] = list;
    if (*f == Format::json || *f == Format::yaml)
      return (void)fmt::print(
          "{}", render_structured(bacalhau_view(shown, what == "executions" ? ModelView::executions
                                                                            : ModelView::history),
                                  *f, o->pretty));
    auto [header, rows] = what == "executions" ? executions_table(shown) : history_table(shown);
    fmt::print("{}", *f == Format::csv ? render_csv(header, rows, o->hide_header)
                                       : render_table(header, rows, o->hide_header));
  });
}

// `shoal job get ARRAY`: every task, one folder each named by its index;
// `not_a_job` is said when `typed` names no array either.
int get_array(const std::string& typed, const std::string& dir, bool wait,
              const std::string& not_a_job) {
  auto c = connect();
  if (!c) return fail(c.error());
  auto array = array_named(*c, typed);
  if (!array) return fail(not_a_job);
  if (wait)
    if (auto end = c->wait_array(*array); !end) return fail(end.error());
  const std::string target = dir.empty() ? "job-" + short_id(*array).substr(2) : dir;
  auto written = fetch_array_outputs(*c, *array, target);
  if (!written) return fail("--output-dir " + target + ": " + written.error());
  fmt::print("{}\n", target);
  if (!wait)
    fmt::print(stderr,
               "shoal: wrote the {} tasks of job array {} as they are now; unfinished ones have "
               "no exitCode or output files yet\n",
               *written, *array);
  return 0;
}

// `shoal job get`.
void add_job_get(CLI::App& job, int& status) {
  auto* cmd =
      job.add_subcommand("get", "Download a job's stdout, stderr, exit code and output files");
  auto id = std::make_shared<std::string>();
  auto dir = std::make_shared<std::string>();
  cmd->add_option("id", *id, "Job id (any unique prefix)")->required();
  cmd->add_option("--output-dir", *dir, "Where to write (default: ./job-<short id>)");
  auto wait = std::make_shared<bool>(true);
  cmd->add_flag("--wait,!--no-wait", *wait,
                "Wait for an unfinished job to end first (default); with --no-wait, write "
                "what it has printed so far and say that it is still running");
  cmd->callback([&status, id, dir, wait] {
    auto s = open_job(*id);
    if (!s) {
      status = get_array(*id, *dir, *wait, s.error());
      return;
    }
    std::string full = s->job["id"];
    const std::string state = s->job.value("state", "");
    const bool unfinished = state != "Completed" && state != "Failed" && state != "Stopped";
    json final = s->job;
    if (unfinished && *wait) {
      auto end = wait_for_end(*s->client, full, false, std::nullopt);
      if (!end) {
        status = fail(end.error());
        return;
      }
      final = std::move(*end);
    }
    auto written = write_results(*s->client, full, *dir);
    if (!written) {
      status = fail(written.error());
      return;
    }
    const std::string& target = *written;
    fmt::print("{}\n", target);
    if (unfinished && !*wait)
      fmt::print(stderr,
                 "shoal: job {} is still {}: {} holds what it printed so far, and no exitCode "
                 "or output files yet (they come when it ends: shoal job get {} again)\n",
                 full, state, target, full);
    say_what_was_cut(final);
    status = 0;
  });
}

// `shoal job stop` and `shoal job delete` (`what`).
void add_job_stop_or_delete(CLI::App& job, int& status, const std::string& what) {
  auto* cmd = job.add_subcommand(
      what, what == "stop" ? "Stop a job" : "Delete a finished job with its logs and outputs");
  auto id = std::make_shared<std::string>();
  auto quiet = std::make_shared<bool>(false);
  cmd->add_option("id", *id, "Job id (any unique prefix)")->required();
  cmd->add_flag("-q,--quiet", *quiet, "Print nothing on success (errors are still said)");
  cmd->callback([&status, id, what, quiet] {
    std::expected<std::string, std::string> r = std::unexpected(std::string());
    if (what == "stop") {
      auto c = open_backend();
      auto j = c ? (*c)->stop(*id) : std::unexpected(c.error());
      if (j && j->value("array", false) && !*quiet)
        fmt::print(stderr, "shoal: stopping {} unfinished tasks of job array {}\n",
                   j->value("stopped", 0), j->value("id", *id));
      if (j)
        r = j->value("id", *id);
      else
        r = std::unexpected(j.error());
    } else {
      auto c = connect();
      r = c ? c->remove(*id) : std::unexpected(c.error());
    }
    if (!r) {
      status = fail(r.error());
      return;
    }
    if (!*quiet) fmt::print("{}\n", *r);
    status = 0;
  });
}

// `shoal job prune`.
void add_job_prune(CLI::App& job, int& status) {
  auto* cmd = job.add_subcommand("prune", "Delete finished jobs older than a given age");
  auto age = std::make_shared<std::string>();
  cmd->add_option("--older-than", *age, "An age: 30d, 12h, 45m, 10s")->required();
  cmd->callback([&status, age] {
    auto seconds = units::parse_duration(*age, 1e12);
    if (!seconds) {
      status = fail("--older-than " + seconds.error());
      return;
    }
    auto c = connect();
    if (!c) {
      status = fail(c.error());
      return;
    }
    auto r = c->prune(std::chrono::seconds(static_cast<int64_t>(*seconds)));
    if (!r) {
      status = fail(r.error());
      return;
    }
    fmt::print("deleted {} jobs\n", *r);
    status = 0;
  });
}

// `shoal job wait`.
void add_job_wait(CLI::App& job, int& status) {
  auto* cmd = job.add_subcommand(
      "wait", "Wait for jobs to end; the exit status is the worst (a progress bar on a terminal)");
  auto ids = std::make_shared<std::vector<std::string>>();
  cmd->add_option("ids", *ids, "Job ids or job array ids (any unique prefixes)")->required();
  cmd->callback([&status, ids] {
    auto c = connect();
    if (!c) {
      status = fail(c.error());
      return;
    }
    // Every id resolved first, so that a bad one is named before any waiting.
    std::set<std::string> pending;
    std::vector<std::string> arrays;
    for (const auto& id : *ids) {
      auto j = c->describe(id);
      if (!j) {
        if (auto array = array_named(*c, id)) {
          arrays.push_back(*array);
          continue;
        }
        status = fail(j.error());
        return;
      }
      pending.insert((*j)["id"].get<std::string>());
    }
    int worst_of_arrays = 0;
    for (const auto& array : arrays)
      worst_of_arrays = std::max(worst_of_arrays, wait_for_array(*c, array, ::isatty(2)));
    if (pending.empty()) {
      status = worst_of_arrays;
      return;
    }
    const size_t total = pending.size();
    ProgressOptions options;
    options.unit = ProgressUnit::items;
    ProgressBar bar(2, "jobs", options);
    bar.update(0, total);
    int worst = 0;
    size_t failed = 0, ended = 0;
    std::vector<json> unsuccessful;  // said once the bar is gone
    auto r = c->wait_all(std::vector<std::string>(pending.begin(), pending.end()),
                         [&](const json& finished) {
                           int code = exit_status_of(finished);
                           if (code != 0) ++failed;
                           if (finished.value("state", "") != "Completed")
                             unsuccessful.push_back(finished);
                           worst = std::max(worst, code);
                           if (failed) bar.set_label(fmt::format("jobs ({} failed)", failed));
                           bar.update(++ended, total);
                         });
    if (!r) {
      status = fail(r.error());
      return;
    }
    bar.finish();
    for (const auto& j : unsuccessful) say_how_it_ended(j);
    status = std::max(worst, worst_of_arrays);
  });
}

}  // namespace

void add_job_commands(CLI::App& app, int& status) {
  auto* job = app.add_subcommand("job", "Inspect and manage jobs");
  job->require_subcommand(1);
  add_job_run_commands(*job, status);
  add_job_list(*job, status);
  add_job_logs(*job, status);
  add_job_describe(*job, status);
  add_job_list_of(*job, status, "executions");
  add_job_list_of(*job, status, "history");
  add_job_get(*job, status);
  add_job_stop_or_delete(*job, status, "stop");
  add_job_stop_or_delete(*job, status, "delete");
  add_job_prune(*job, status);
  add_job_wait(*job, status);
  add_job_rerun(*job, status);
}

}  // namespace shoal::cli
