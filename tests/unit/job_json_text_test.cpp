// The job JSON written straight to text must be byte for byte what
// nlohmann's tree gives (the client protocol's replies), for any job.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "protocol/job_json.h"

using namespace shoal::jobs;

namespace {

std::string tree_text(const Job& j) {
  return to_json(j).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Strings of every kind a job may hold: plain, escaped characters, control
// bytes, multi-byte UTF-8, and bytes that are not UTF-8 at all.
class Strings {
 public:
  explicit Strings(uint32_t seed) : rng_(seed) {}
  std::string next() {
    static const std::string pieces[] = {"",
                                         "a",
                                         "hello world",
                                         "\"",
                                         "\\",
                                         "/",
                                         "\b\f\n\r\t",
                                         "\x01",
                                         "\x1f",
                                         "\x7f",
                                         "é",
                                         "€",
                                         "😀",
                                         "日本語",
                                         "\xff",
                                         "\xc3",
                                         "\xe2\x82",
                                         "\xed\xa0\x80",
                                         "\xc0\xaf",
                                         "\xf4\x90\x80\x80",
                                         "\x80"};
    std::string s;
    int n = std::uniform_int_distribution<int>(0, 4)(rng_);
    for (int i = 0; i < n; ++i) s += pieces[pick(std::size(pieces))];
    return s;
  }
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  uint64_t number() {
    static const uint64_t edges[] = {
        0, 1, 9, 10, 999, 4096, uint64_t{1} << 32, std::numeric_limits<uint64_t>::max()};
    return pick(3) == 0 ? edges[pick(std::size(edges))] : rng_();
  }
  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

Job random_job(Strings& r) {
  Job j;
  j.id = r.next();
  j.state = static_cast<JobState>(r.pick(6));
  j.message = r.next();
  j.created_ns = static_cast<int64_t>(r.pick(4'000'000'000) * 1'000'000'000ull / 2);
  j.modified_ns = r.pick(2) ? 0 : j.created_ns + 1'234'567;
  if (r.pick(2)) j.exit_code = static_cast<int32_t>(r.number());
  j.revision = r.number();
  j.outputs_message = r.next();
  JobSpec& s = j.spec;
  s.name = r.next();
  for (size_t i = r.pick(4); i > 0; --i) s.labels[r.next()] = r.next();
  for (size_t i = r.pick(3); i > 0; --i) s.meta[r.next()] = r.next();
  s.module_name = r.next();
  s.module_hash = r.next();
  s.entry_point = r.next();
  for (size_t i = r.pick(4); i > 0; --i) s.args.push_back(r.next());
  for (size_t i = r.pick(4); i > 0; --i) s.env.push_back(r.next());
  for (size_t i = r.pick(3); i > 0; --i) s.inputs.push_back({r.next(), r.next()});
  for (size_t i = r.pick(3); i > 0; --i) s.outputs.push_back({r.next(), r.next()});
  static const uint64_t timeouts[] = {0, 1, 1500, 2000, 123456789, 100, 33};
  s.timeout_ms = r.pick(2) ? timeouts[r.pick(std::size(timeouts))] : r.number() % (1ull << 50);
  s.memory_bytes = r.number();
  s.constraints = r.next();
  for (size_t i = r.pick(3); i > 0; --i) s.import_modules.push_back({r.next(), r.next(), r.next()});
  for (size_t i = r.pick(3); i > 0; --i)
    s.inline_inputs.push_back({r.next(), r.next(), r.number()});
  for (size_t i = r.pick(4); i > 0; --i) {
    Execution e;
    e.id = r.next();
    e.attempt = static_cast<uint32_t>(r.number());
    e.worker = r.next();
    e.state = static_cast<JobState>(r.pick(6));
    e.started_ns = j.created_ns;
    e.ended_ns = r.pick(2) ? 0 : j.created_ns + 999'999'999;
    if (r.pick(2)) e.exit_code = static_cast<int32_t>(r.number());
    e.message = r.next();
    e.stdout_bytes = r.number();
    e.stderr_bytes = r.number();
    e.stdout_dropped = r.number();
    e.stderr_dropped = r.number();
    j.executions.push_back(e);
  }
  for (size_t i = r.pick(6); i > 0; --i)
    j.history.push_back({j.created_ns + static_cast<int64_t>(i), r.next(), r.next()});
  for (size_t i = r.pick(3); i > 0; --i) j.output_files.push_back({r.next(), r.next(), r.number()});
  return j;
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_empty_job_is_written_as_the_tree_writes_it) {
  Job j;
  BOOST_TEST(to_json_text(j) == tree_text(j));
}

BOOST_AUTO_TEST_CASE(a_typical_finished_job_is_written_as_the_tree_writes_it) {
  Job j;
  j.id = "j-0123456789abcdef";
  j.state = JobState::completed;
  j.created_ns = 1'795'000'000'123'000'000;
  j.modified_ns = j.created_ns + 2'000'000;
  j.exit_code = 0;
  j.revision = 3;
  j.spec.module_name = "hello.wasm";
  j.spec.module_hash = std::string(64, 'a');
  j.spec.args = {"Ada", "Grace"};
  j.spec.env = {"GREETING=Hello"};
  j.spec.labels = {{"team", "wasm"}, {"a", "b"}};
  j.spec.outputs = {{"outputs", "/outputs"}};
  j.spec.timeout_ms = 1500;
  Execution e;
  e.id = "e-0123456789abcdef-1";
  e.worker = "w1";
  e.state = JobState::completed;
  e.exit_code = 0;
  e.stdout_bytes = 28;
  j.executions.push_back(e);
  j.history.push_back({j.created_ns, "State", "Queued -> Running"});
  j.output_files.push_back({"outputs", "a.txt", 12});
  BOOST_TEST(to_json_text(j) == tree_text(j));
  BOOST_TEST(nlohmann::json::parse(to_json_text(j))["spec"]["timeout_s"] == 1.5);
}

BOOST_AUTO_TEST_CASE(random_jobs_with_every_kind_of_string_are_written_as_the_tree_writes_them) {
  Strings r(20261124);
  for (int i = 0; i < 3000; ++i) {
    Job j = random_job(r);
    std::string fast = to_json_text(j), tree = tree_text(j);
    BOOST_TEST_REQUIRE(fast == tree, "job " << i << ":\n" << fast << "\n" << tree);
  }
}

// A spec that passes check_spec, with every field the submission carries
// set, so that the reader and the writer are compared on all of them.
JobSpec valid_spec(Strings& r) {
  JobSpec s;
  s.name = r.next();
  s.labels = {{"team", r.next()}};
  s.meta = {{"owner", r.next()}, {"ticket", "42"}};
  s.module_name = r.next();
  s.entry_point = "run";
  s.args = {r.next(), r.next()};
  s.env = {"A=" + r.next()};
  s.inputs = {{r.next(), "/in"}};
  s.outputs = {{"res", "/res"}};
  s.timeout_ms = 1500;
  s.memory_bytes = 1 << 20;
  s.constraints = "zone=a";
  s.import_modules = {{"lib", r.next(), ""}};
  s.inline_inputs = {{"/etc/x", "", 0}};
  return s;
}

BOOST_AUTO_TEST_CASE(a_spec_read_from_its_submission_json_is_the_same_spec) {
  Strings r(20261203);
  for (int i = 0; i < 200; ++i) {
    JobSpec s = valid_spec(r);
    // Strings that are not UTF-8 cannot be JSON; those are for the writers.
    nlohmann::json j = nlohmann::json::parse(
        submission_json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    auto back = spec_from_json(j);
    BOOST_TEST_REQUIRE(back.has_value(), back.error() << "\n" << j.dump());
    BOOST_TEST(submission_json(*back) == j, submission_json(*back).dump() << "\n" << j.dump());
  }
}

BOOST_AUTO_TEST_CASE(a_submission_leaves_out_what_is_default_and_what_the_broker_fills) {
  JobSpec s;
  s.module_name = "m.wasm";
  s.module_hash = "abc";
  s.meta = {{"owner", "ana"}};
  s.import_modules = {{"lib", "lib.wasm", "def"}};
  BOOST_TEST(submission_json(s) ==
             nlohmann::json::parse(R"({"module":"m.wasm","meta":{"owner":"ana"},
                                       "import_modules":[{"name":"lib","source":"lib.wasm"}]})"));
}

BOOST_AUTO_TEST_CASE(a_field_of_the_wrong_kind_is_named_with_its_path) {
  auto bad = [](const char* text) {
    auto s = spec_from_json(nlohmann::json::parse(text));
    return s ? std::string("accepted") : s.error();
  };
  BOOST_TEST(bad(R"({"name": 5})") == "name must be a string, not 5");
  BOOST_TEST(bad(R"({"meta": {"a": 1}})") == "meta.a must be a string, not 1");
  BOOST_TEST(bad(R"({"meta": {"": "x"}})") == "meta: a key is empty");
  BOOST_TEST(bad(R"({"inputs": [{"source": "/a"}]})") == "inputs[0].target is missing");
  BOOST_TEST(bad(R"({"args": ["a", null]})") == "args[1] must be a string, not null");
  BOOST_TEST(bad(R"({"metas": {}})") == "unknown field 'metas' in the spec");
}

// The broker's check of a spec refuses mounts the worker could not all
// give, in the spec's terms, comparing guest paths normalised.
BOOST_AUTO_TEST_CASE(mounts_that_claim_one_guest_path_are_refused_naming_both) {
  auto refused = [](const char* text) {
    auto s = spec_from_json(nlohmann::json::parse(text));
    return s ? std::string() : s.error();
  };
  BOOST_TEST(refused(R"({"outputs":[{"name":"a","path":"/inputs"}],
                          "inputs":[{"source":"/h/f.txt","target":"/inputs/f.txt"}]})") ==
             "output a:/inputs and input /h/f.txt:/inputs/f.txt both claim /inputs");
  BOOST_TEST(refused(R"({"inputs":[{"source":"/h/d","target":"/data/"},
                                   {"source":"/h/e","target":"//data"}]})") ==
             "input /h/d:/data/ and input /h/e://data both claim /data");
  BOOST_TEST(refused(R"({"inputs":[{"source":"/h/f.txt","target":"/outputs/f.txt"}]})") ==
             "the default output /outputs and input /h/f.txt:/outputs/f.txt both claim /outputs");
  // A file deeper inside an output, and two files in one directory, fit.
  BOOST_TEST(refused(R"({"outputs":[{"name":"a","path":"/out"}],
                          "inputs":[{"source":"/h/f","target":"/out/sub/f"},
                                    {"source":"/h/g","target":"/in/g"},
                                    {"source":"/h/k","target":"/in/k"}]})") == "");
}
