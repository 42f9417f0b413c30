// Job arrays as pure functions and state: Slurm's index syntax, the
// placeholders, each task's spec (protocol/array.h), and the summary the
// broker keeps of an array (broker/array_progress.h).
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "broker/array_progress.h"
#include "protocol/array.h"
#include "protocol/job_json.h"

using namespace shoal::jobs;
using shoal::broker::ArrayProgress;

namespace {

template <class T>
std::string why(const std::expected<T, std::string>& r) {
  return r ? std::string() : r.error();
}

std::vector<uint64_t> indices(std::string_view text) {
  auto r = parse_array_indices(text);
  BOOST_TEST_REQUIRE(r.has_value(), std::string(text) + ": " + why(r));
  return *r;
}

std::string refusal(std::string_view text) {
  auto r = parse_array_indices(text);
  BOOST_TEST_REQUIRE(!r.has_value(), std::string(text) + " was taken");
  return r.error();
}

const std::string kArray = "j-0a1b2c3d-0000-4000-8000-000000000001";

}  // namespace

BOOST_AUTO_TEST_CASE(slurm_index_lists_are_ranges_steps_and_lists_ascending_once) {
  BOOST_TEST(indices("7") == std::vector<uint64_t>({7}));
  BOOST_TEST(indices("1-4") == std::vector<uint64_t>({1, 2, 3, 4}));
  BOOST_TEST(indices("0-15:4") == std::vector<uint64_t>({0, 4, 8, 12}));
  BOOST_TEST(indices("5-7,1,3,2-3") == std::vector<uint64_t>({1, 2, 3, 5, 6, 7}));
  BOOST_TEST(indices("1-10000").size() == 10000u);
}

BOOST_AUTO_TEST_CASE(bad_index_lists_are_refused_naming_the_part) {
  BOOST_TEST(refusal("").find("empty") != std::string::npos);
  BOOST_TEST(refusal("1-x").find("'1-x' is not an index") != std::string::npos);
  BOOST_TEST(refusal("5-1").find("'5-1' ends before it starts") != std::string::npos);
  BOOST_TEST(refusal("1-9:0").find("the step is 0") != std::string::npos);
  BOOST_TEST(refusal("1,,2").find("'' is not an index") != std::string::npos);
  BOOST_TEST(refusal("-3").find("is not an index") != std::string::npos);
  BOOST_TEST(refusal("1-200000").find("more than 100000 tasks") != std::string::npos);
  BOOST_TEST(refusal("1-10%2").find("not supported") != std::string::npos);
  BOOST_TEST(refusal("7:2").find("a step needs a range") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(placeholders_are_gnu_parallels) {
  ArrayTask t{17, "/data/in/photo.v2.jpg"};
  BOOST_TEST(fill_placeholders("{}", t) == "/data/in/photo.v2.jpg");
  BOOST_TEST(fill_placeholders("{.}", t) == "/data/in/photo.v2");
  BOOST_TEST(fill_placeholders("{/}", t) == "photo.v2.jpg");
  BOOST_TEST(fill_placeholders("{//}", t) == "/data/in");
  BOOST_TEST(fill_placeholders("{/.}", t) == "photo.v2");
  BOOST_TEST(fill_placeholders("out-{#}-{/.}.png", t) == "out-17-photo.v2.png");
  // Anything else in braces is left as written (JSON in an argument).
  BOOST_TEST(fill_placeholders("{\"a\": 1} {x} {", t) == "{\"a\": 1} {x} {");
  BOOST_TEST(fill_placeholders("{.}", ArrayTask{1, "/a.b/c"}) == "/a.b/c");
}

BOOST_AUTO_TEST_CASE(each_task_spec_has_its_placeholders_filled_and_the_array_variables) {
  JobSpec base;
  base.args = {"--n", "{}", "{/}"};
  base.env = {"WHICH={#}", "SHOAL_ARRAY_INDEX=mine"};
  base.outputs = {{"out-{/.}", "/outputs/{#}"}};
  ArraySpec a;
  a.items = {"/d/a.txt", "/d/b.txt"};
  a.item_target = "/inputs/in.txt";
  auto tasks = array_tasks(a);
  BOOST_TEST_REQUIRE(tasks.has_value());
  BOOST_TEST(tasks->size() == 2u);
  auto s = task_spec(base, a, *tasks, 1, kArray);
  BOOST_TEST_REQUIRE(s.has_value(), why(s));
  BOOST_TEST(s->args == std::vector<std::string>({"--n", "/d/b.txt", "b.txt"}));
  BOOST_TEST(s->outputs[0].name == "out-b");
  BOOST_TEST(s->outputs[0].path == "/outputs/2");
  BOOST_TEST_REQUIRE(s->inputs.size() == 1u);
  BOOST_TEST(s->inputs[0].source == "/d/b.txt");
  BOOST_TEST(s->inputs[0].target == "/inputs/in.txt");
  auto has = [&](const std::string& e) {
    return std::find(s->env.begin(), s->env.end(), e) != s->env.end();
  };
  BOOST_TEST(has("WHICH=2"));
  BOOST_TEST(has("SHOAL_ARRAY_ID=" + kArray));
  BOOST_TEST(has("SHOAL_ARRAY_INDEX=2"));  // ours, not the user's
  BOOST_TEST(!has("SHOAL_ARRAY_INDEX=mine"));
  BOOST_TEST(has("SHOAL_ARRAY_COUNT=2"));
  BOOST_TEST(has("SHOAL_ARRAY_ITEM=/d/b.txt"));
  BOOST_TEST(has("SLURM_ARRAY_TASK_ID=2"));
  BOOST_TEST(has("SLURM_ARRAY_TASK_MIN=1"));
  BOOST_TEST(has("SLURM_ARRAY_TASK_MAX=2"));
}

BOOST_AUTO_TEST_CASE(a_task_whose_filled_spec_is_invalid_is_named) {
  JobSpec base;
  base.outputs = {{"out {/}", "/outputs"}};  // a space is no output name
  ArraySpec a;
  a.indices = "3";
  auto tasks = array_tasks(a);
  BOOST_TEST_REQUIRE(tasks.has_value());
  auto s = task_spec(base, a, *tasks, 0, kArray);
  BOOST_TEST_REQUIRE(!s.has_value());
  BOOST_TEST(s.error().find("array task 3") != std::string::npos, s.error());
}

BOOST_AUTO_TEST_CASE(an_array_has_indices_or_items_not_both) {
  ArraySpec a;
  BOOST_TEST(!array_tasks(a).has_value());
  a.indices = "1";
  a.items = {"x"};
  BOOST_TEST(!array_tasks(a).has_value());
  a.indices.clear();
  a.items = {"x", ""};
  BOOST_TEST(array_tasks(a).error().find("item 2 is empty") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(task_ids_show_their_array_and_index) {
  BOOST_TEST(task_id(kArray, 17) == kArray + "-17");
  auto t = task_of(kArray + "-17");
  BOOST_TEST_REQUIRE(t.has_value());
  BOOST_TEST(t->array_id == kArray);
  BOOST_TEST(t->index == 17u);
  BOOST_TEST(!task_of(kArray).has_value());
  BOOST_TEST(!task_of(kArray + "-").has_value());
  BOOST_TEST(!task_of(kArray + "-1x").has_value());
  BOOST_TEST(is_array_id_shape(kArray));
}

BOOST_AUTO_TEST_CASE(the_submission_array_is_read_with_its_fields_named) {
  auto a = array_from_json({{"array", {{"indices", "1-3"}}}});
  BOOST_TEST_REQUIRE(a.has_value());
  BOOST_TEST_REQUIRE(a->has_value());
  BOOST_TEST((*a)->indices == "1-3");
  BOOST_TEST(!array_from_json(nlohmann::json::object())->has_value());
  auto bad = array_from_json({{"array", {{"items", {"a", 3}}}}});
  BOOST_TEST_REQUIRE(!bad.has_value());
  BOOST_TEST(bad.error() == "array.items[1] must be a string, not 3");
  auto typo = array_from_json({{"array", {{"indexes", "1"}}}});
  BOOST_TEST(typo.error() == "unknown field 'indexes' in array");
  // The spec reader takes "array" as the submit command's own key.
  BOOST_TEST(spec_from_json({{"array", {{"indices", "1"}}}}).has_value());
}

BOOST_AUTO_TEST_CASE(the_summary_counts_states_and_names_the_unsuccessful_tasks) {
  ArrayProgress p(kArray);
  auto task = [&](uint64_t i, JobState s, std::optional<int32_t> code = {}) {
    Job j;
    j.id = task_id(kArray, i);
    j.state = s;
    j.exit_code = code;
    if (s == JobState::failed) j.message = "trap";
    return j;
  };
  for (uint64_t i = 1; i <= 30; ++i) p.update(task(i, JobState::queued));
  BOOST_TEST(!p.finished());
  for (uint64_t i = 1; i <= 30; ++i) p.update(task(i, JobState::running));
  for (uint64_t i = 1; i <= 5; ++i) p.update(task(i, JobState::completed, 0));
  p.update(task(6, JobState::completed, 3));
  for (uint64_t i = 7; i <= 29; ++i) p.update(task(i, JobState::failed));
  auto s = p.summary();
  BOOST_TEST(s["running"] == 1);
  BOOST_TEST(s["completed"] == 6);
  BOOST_TEST(s["succeeded"] == 5);
  BOOST_TEST(s["failed"] == 23);
  BOOST_TEST(s["worst_exit_code"] == 3);
  BOOST_TEST(s["unsuccessful_count"] == 24);
  BOOST_TEST(s["unsuccessful"].size() == shoal::broker::kListedUnsuccessful);
  BOOST_TEST(s["unsuccessful"][0]["id"] == task_id(kArray, 6));
  BOOST_TEST(s["unsuccessful"][1]["message"] == "trap");
  p.update(task(30, JobState::stopped));
  BOOST_TEST(p.finished());
  BOOST_TEST(p.summary()["stopped"] == 1);
}
