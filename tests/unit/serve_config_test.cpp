// The stored serve configuration (broker/serve_config.h): what `shoal serve`
// stores is what a later broker loads; a malformed file is named with its
// field; --forget-config removes it.
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>

#include "broker/serve_config.h"

namespace b = shoal::broker;

namespace {

struct TempState {
  b::BrokerOptions options;
  TempState() {
    char tmpl[] = "/tmp/shoal-serve-config-test.XXXXXX";
    options.dir.root = ::mkdtemp(tmpl);
  }
  ~TempState() { std::filesystem::remove_all(options.dir.root); }
  void write(const std::string& text) { std::ofstream(b::serve_config_path(options.dir)) << text; }
};

}  // namespace

BOOST_AUTO_TEST_CASE(what_is_stored_is_what_a_later_broker_loads) {
  TempState t;
  b::BrokerOptions given = t.options;
  given.listen = "tcp://0.0.0.0:7700";
  given.listen_workers = "tcp://0.0.0.0:7800";
  given.labels = {{"zone", "a"}};
  given.data_roots = {"/srv/data", "/srv/more"};
  given.workers = -1;
  given.max_attempts = 5;
  given.module_memory = 1 << 20;
  given.tcp_connections = 300;
  given.log_level = "debug";  // not part of it
  BOOST_REQUIRE(b::store_serve_config(given.dir, b::serve_config_text(given)));
  struct stat st {};
  BOOST_REQUIRE(::stat(b::serve_config_path(given.dir).c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);

  b::BrokerOptions later = t.options;
  auto loaded = b::load_serve_config(later);
  BOOST_REQUIRE(loaded);
  BOOST_TEST(*loaded);
  BOOST_TEST(later.listen == given.listen);
  BOOST_TEST(later.listen_workers == given.listen_workers);
  BOOST_TEST((later.labels == given.labels));
  BOOST_TEST(later.data_roots == given.data_roots);
  BOOST_TEST(later.workers == -1);
  BOOST_TEST(later.max_attempts == 5u);
  BOOST_TEST(later.module_memory == 1u << 20);
  BOOST_TEST(later.tcp_connections == 300u);
  BOOST_TEST(later.log_level == "info");
  BOOST_TEST(b::describe_serve_config(later) ==
             "--listen tcp://0.0.0.0:7700 --listen-workers tcp://0.0.0.0:7800 --label zone=a "
             "--data-root /srv/data --data-root /srv/more --workers 0 --max-attempts 5 "
             "--module-memory 1048576 --tcp-connections 300");
}

BOOST_AUTO_TEST_CASE(none_stored_leaves_the_defaults_and_forget_removes_it) {
  TempState t;
  auto loaded = b::load_serve_config(t.options);
  BOOST_REQUIRE(loaded);
  BOOST_TEST(!*loaded);
  BOOST_TEST(b::describe_serve_config(t.options) == "(none)");
  t.write("{}");
  BOOST_TEST(*b::load_serve_config(t.options));
  BOOST_REQUIRE(b::forget_serve_config(t.options.dir));
  BOOST_TEST(!std::filesystem::exists(b::serve_config_path(t.options.dir)));
  BOOST_TEST(b::forget_serve_config(t.options.dir).has_value());  // nothing to remove
}

BOOST_AUTO_TEST_CASE(a_malformed_file_is_named_with_its_field_and_changes_nothing) {
  TempState t;
  const std::string path = b::serve_config_path(t.options.dir);
  const std::string hint = " (remove it, or run shoal serve with the flags)";
  auto error_of = [&](const std::string& text) {
    t.write(text);
    b::BrokerOptions o = t.options;
    o.listen = "unchanged";
    auto r = b::load_serve_config(o);
    BOOST_TEST(o.listen == "unchanged");
    return r ? std::string("(loaded)") : r.error();
  };
  BOOST_TEST(error_of("{not json") == path + ": not JSON" + hint);
  BOOST_TEST(error_of("[1]") == path + ": not a JSON object" + hint);
  BOOST_TEST(error_of(R"({"workers": "many"})") ==
             path + ": workers must be an integer from -1 to 1024" + hint);
  BOOST_TEST(error_of(R"({"workers": -2})") ==
             path + ": workers must be an integer from -1 to 1024" + hint);
  BOOST_TEST(error_of(R"({"max_attempts": 0})") ==
             path + ": max_attempts must be an integer from 1 to 100" + hint);
  BOOST_TEST(error_of(R"({"listen": 7})") == path + ": listen must be a string" + hint);
  BOOST_TEST(error_of(R"({"labels": {"a": 1}})") == path + ": label a must be a string" + hint);
  BOOST_TEST(error_of(R"({"data_roots": "/srv"})") ==
             path + ": data_roots must be an array of paths" + hint);
}

BOOST_AUTO_TEST_CASE(the_api_is_stored_and_loaded_with_the_rest) {
  TempState t;
  b::BrokerOptions given = t.options;
  given.api.enabled = true;
  given.api.host = "127.0.0.2";
  given.api.port = 4321;
  given.api.token_file = "/srv/token";
  BOOST_REQUIRE(b::store_serve_config(given.dir, b::serve_config_text(given)));
  b::BrokerOptions later = t.options;
  BOOST_REQUIRE(*b::load_serve_config(later));
  BOOST_TEST(later.api.enabled);
  BOOST_TEST(later.api.host == "127.0.0.2");
  BOOST_TEST(later.api.port == 4321);
  BOOST_TEST(later.api.token_file == "/srv/token");
  BOOST_TEST(b::describe_serve_config(later) ==
             "--api-host 127.0.0.2 --api-port 4321 --api-token-file /srv/token");
  t.write(R"({"api": {"token_file": "/srv/token"}})");  // no host, no port: no API
  b::BrokerOptions token_only = t.options;
  BOOST_REQUIRE(*b::load_serve_config(token_only));
  BOOST_TEST(!token_only.api.enabled);
  t.write(R"({"api": {"port": 70000}})");
  b::BrokerOptions bad = t.options;
  BOOST_TEST(!b::load_serve_config(bad).has_value());
}

BOOST_AUTO_TEST_CASE(config_keys_are_set_read_and_unset_one_at_a_time) {
  nlohmann::json config = nlohmann::json::object();
  auto set = [&](const std::string& key, std::vector<std::string> values) {
    auto r = b::set_serve_config_value(config, key, values);
    if (r) config = *r;
    return r ? std::string() : r.error();
  };
  BOOST_TEST(set("API.Port", {"1234"}) == "");  // Bacalhau's spelling
  BOOST_TEST(config == nlohmann::json::parse(R"({"api": {"port": 1234}})"));
  BOOST_TEST(set("labels", {"zone=a,rack=2", "os=linux"}) == "");
  BOOST_TEST(*b::serve_config_value(config, "labels") == "os=linux,rack=2,zone=a");
  BOOST_TEST(set("workers", {"0"}) == "");  // as --workers 0: none
  BOOST_TEST(config["workers"] == -1);
  BOOST_TEST(*b::serve_config_value(config, "workers") == "0");
  BOOST_TEST(set("max_module_bytes", {"512MiB"}) == "");
  BOOST_TEST(config["max_module_bytes"] == 512u << 20);
  BOOST_TEST(set("api.port", {"1", "2"}) == "api.port takes one value, not 2");
  BOOST_TEST(set("max_attempts", {"0"}) == "max_attempts must be an integer from 1 to 100");
  BOOST_TEST(
      set("nosuch", {"1"}).starts_with("unknown configuration key 'nosuch' (keys: api.host"));
  BOOST_TEST(!b::serve_config_value(config, "listen"));
  config = *b::unset_serve_config_value(config, "api.port");
  BOOST_TEST(!config.contains("api"));  // an emptied object goes too
}

BOOST_AUTO_TEST_CASE(slurm_pilots_are_stored_loaded_and_set_one_key_at_a_time) {
  TempState t;
  b::BrokerOptions given = t.options;
  given.pilots.provider = "slurm";
  given.pilots.partition = "debug";
  given.pilots.max_workers = 8;
  given.pilots.min_workers = 1;
  given.pilots.slots = 4;
  given.pilots.time_limit_minutes = 120;
  given.pilots.idle_seconds = 30;
  given.pilots.slurm_options = {"--qos=high", "--account=lab"};
  BOOST_REQUIRE(b::store_serve_config(given.dir, b::serve_config_text(given)));
  b::BrokerOptions later = t.options;
  BOOST_REQUIRE(*b::load_serve_config(later));
  BOOST_TEST(later.pilots.provider == "slurm");
  BOOST_TEST(later.pilots.partition == "debug");
  BOOST_TEST(later.pilots.max_workers == 8);
  BOOST_TEST(later.pilots.min_workers == 1);
  BOOST_TEST(later.pilots.slots == 4);
  BOOST_TEST(later.pilots.time_limit_minutes == 120);
  BOOST_TEST(later.pilots.idle_seconds == 30);
  BOOST_TEST(later.pilots.slurm_options == given.pilots.slurm_options);
  BOOST_TEST(b::describe_serve_config(later) ==
             "--provider slurm --slurm-partition debug --max-workers 8 --min-workers 1 "
             "--slots-per-worker 4 --worker-time-limit 120m --worker-idle-time 30s "
             "--slurm-option =--qos=high --slurm-option =--account=lab");

  nlohmann::json config = nlohmann::json::object();
  auto set = [&](const std::string& key, std::vector<std::string> values) {
    auto r = b::set_serve_config_value(config, key, values);
    if (r) config = *r;
    return r ? std::string() : r.error();
  };
  BOOST_TEST(set("pilots.provider", {"slurm"}) == "");
  BOOST_TEST(set("pilots.partition", {"gpu"}) == "");
  BOOST_TEST(set("pilots.max_workers", {"12"}) == "");
  BOOST_TEST(set("pilots.time_limit", {"1h30m"}) == "");
  BOOST_TEST(set("pilots.idle_time", {"2m"}) == "");
  BOOST_TEST(set("pilots.slurm_options", {"--qos=high", "--exclusive"}) == "");
  BOOST_TEST(config ==
             nlohmann::json::parse(
                 R"({"pilots": {"provider": "slurm", "partition": "gpu", "max_workers": 12,
                               "time_limit": 90, "idle_time": 120,
                               "slurm_options": ["--qos=high", "--exclusive"]}})"));
  BOOST_TEST(*b::serve_config_value(config, "pilots.time_limit") == "90");
  BOOST_TEST(set("pilots.provider", {"kubernetes"}) ==
             "pilots.provider kubernetes: unknown (the one there is: slurm)");
  BOOST_TEST(set("pilots.max_workers", {"many"}) ==
             "pilots.max_workers: 'many' is not a whole number");
  auto unset = b::unset_serve_config_value(config, "pilots.partition");
  BOOST_REQUIRE(unset);
  BOOST_TEST(!b::serve_config_value(*unset, "pilots.partition"));
}
