// The state directory under faults, through the real `shoal` binary and
// broker: a full disk, damaged or foreign files, a directory or file where
// the other should be. Each is reported in one clear line naming the file
// and what to do, with a non-zero exit; nothing crashes; what was stored
// before stays readable.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include "client/client.h"

#include "tests/support/shoal_home.h"
#include "tests/support/tmpfs.h"
#include "tests/support/wasm_bytes.h"

namespace fs = std::filesystem;
using nlohmann::json;
using shoal::test::Home;
using shoal::test::read_file;
using shoal::test::TempDir;
using shoal::test::test_wasm;
using shoal::test::trim;

namespace {

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A state directory with one finished job in it, its broker shut down.
struct Used : TempDir {
  std::string id;
  Used() {
    Home h(path());
    auto r = h.shoal({"wasm", "run", "--id-only", test_wasm("exit_code"), "7"});
    id = trim(r.out);
    BOOST_TEST_REQUIRE(id.starts_with("j-"), r.err);
  }
  std::string store() const { return path() + "/store"; }
};

// `shoal serve` and an auto-starting command both refuse the state, saying
// `message`; nothing is left running.
void refused(const Used& state, const std::string& message) {
  Home h(state.path());
  // `shoal serve` logs to stderr too: the reason is its last line.
  auto serve = h.shoal({"serve"});
  BOOST_TEST(serve.status == 1);
  BOOST_TEST(serve.err.ends_with("\nshoal: " + message + "\n"), serve.err);
  auto list = h.shoal({"job", "list"});
  BOOST_TEST(list.status != 0);
  BOOST_TEST(has(list.err,
                 "the broker did not start: " + message + " (see " + state.path() + "/broker.log)"),
             list.err);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_full_disk_fails_new_submissions_clearly_and_keeps_earlier_jobs,
                     *boost::unit_test::precondition(shoal::test::can_mount_tmpfs)) {
  shoal::test::Tmpfs disk("32m");
  Home h(disk.path());
  auto first = h.shoal({"wasm", "run", "--id-only", test_wasm("args_env"), "before"});
  BOOST_TEST_REQUIRE(first.status == 0, first.err);
  const std::string id = trim(first.out);
  const std::string logs_before = h.shoal({"job", "logs", id}).out;
  const int broker = h.broker_pid();

  disk.fill("filler");
  // Submissions with 100 KiB of environment each, until the store is full
  // (LMDB reuses free pages first, so the first few may still fit).
  std::string error;
  int accepted = 0;
  for (int i = 0; i < 100 && error.empty(); ++i) {
    auto r = h.shoal({"wasm", "run", "--wait=false", "--id-only", "-e",
                      "BIG=" + std::string(100 << 10, char('a' + i % 26)), test_wasm("exit_code"),
                      std::to_string(i)});
    if (r.status == 0)
      ++accepted;
    else
      error = r.err;
  }
  BOOST_TEST_MESSAGE("submissions accepted on the full disk: " << accepted);
  BOOST_TEST(
      has(error, "the job could not be stored: store: no space left on the disk of " + disk.path() +
                     "/store (No space left on device); nothing was written; free some space on "
                     "that disk and try again (the store's file does not shrink when jobs are "
                     "removed: `shoal job prune` makes room inside it for new jobs, and `shoal "
                     "compact`, with the broker stopped, gives that room back to the disk)"),
      error);

  // The broker is still up, the same process, and the earlier job readable.
  BOOST_TEST(::kill(broker, 0) == 0);
  BOOST_TEST(h.broker_pid() == broker);
  BOOST_TEST(h.job(id)["state"] == "Completed");
  BOOST_TEST(h.shoal({"job", "logs", id}).out == logs_before);
  BOOST_TEST(h.shoal({"job", "list"}).status == 0);

  fs::remove(disk.path() + "/filler");
  auto after = h.shoal({"wasm", "run", test_wasm("exit_code"), "9"});
  BOOST_TEST(after.status == 9, after.err);
  BOOST_TEST(after.out == "exiting with 9\n");
}

namespace {

// A 32 MB disk holding one finished job, then filled but for `room` bytes,
// with a broker on it.
struct NearlyFullDisk {
  shoal::test::Tmpfs disk{"32m"};
  Home h{disk.path()};
  explicit NearlyFullDisk(size_t room) {
    auto first = h.shoal({"wasm", "run", "--id-only", test_wasm("exit_code"), "3"});
    BOOST_TEST_REQUIRE(first.status == 3, first.err);
    std::ofstream(disk.path() + "/room") << std::string(room, 'r');
    disk.fill("filler");
    fs::remove(disk.path() + "/room");
  }
  void free_space() { fs::remove(disk.path() + "/filler"); }
  shoal::client::Client connect() const {
    shoal::client::Options o;
    o.state_dir = disk.path();
    o.shoal_binary = shoal::test::shoal_bin();
    auto c = shoal::client::Client::connect(o);
    if (!c) throw std::runtime_error(c.error());
    return std::move(*c);
  }
};

struct Submitted {
  std::vector<std::string> accepted;  // ids
  int refused = 0;                    // for want of space
  std::vector<std::string> other_errors;
};

// `each` submissions from each of four clients at once; submission i of
// client t is make(t, i).
Submitted submit_from_four_clients(const NearlyFullDisk& d, int each,
                                   const std::function<shoal::client::Submission(int, int)>& make) {
  Submitted out;
  std::mutex mu;
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      try {
        auto c = d.connect();
        for (int i = 0; i < each; ++i) {
          auto id = c.submit(make(t, i));
          std::lock_guard lock(mu);
          if (id)
            out.accepted.push_back(*id);
          else if (has(id.error(), "the job could not be stored: store: no space left"))
            ++out.refused;
          else
            out.other_errors.push_back(id.error());
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(mu);
        out.other_errors.push_back(e.what());
      }
    });
  }
  for (auto& c : clients) c.join();
  BOOST_TEST(out.other_errors.empty(), (out.other_errors.empty() ? "" : out.other_errors[0]));
  return out;
}

}  // namespace

// The broker's loop goes on while a commit is under way, so a commit that
// fails overlaps with jobs being submitted, started and ended: here four
// clients submit at once while the disk fills up. Each submission is either
// acknowledged, and then runs to its end and is stored, or refused, and
// then nothing of it is stored (not even the start of a run that began
// before its commit failed).
BOOST_AUTO_TEST_CASE(submissions_from_many_clients_on_a_full_disk_are_stored_or_refused_whole,
                     *boost::unit_test::precondition(shoal::test::can_mount_tmpfs)) {
  NearlyFullDisk d(3 << 20);  // room for a few submissions, then none
  // A module the store does not hold yet.
  const std::string module = shoal::test::padded(read_file(test_wasm("exit_code")), 256 << 10);
  auto got = submit_from_four_clients(d, 12, [&](int t, int i) {
    shoal::client::Submission s;
    s.spec = {{"module", "exit_code.wasm"},
              {"args", {std::to_string(t * 12 + i)}},
              {"env", {"BIG=" + std::string(100 << 10, char('a' + i))}}};
    s.module = module;
    return s;
  });
  BOOST_TEST_MESSAGE("accepted " << got.accepted.size() << ", refused " << got.refused);
  BOOST_TEST(got.refused > 0);
  BOOST_TEST(!got.accepted.empty());

  d.free_space();
  auto c = d.connect();
  for (const auto& id : got.accepted) {
    auto end = c.wait(id);
    BOOST_TEST_REQUIRE(end.has_value(), (end ? "" : end.error()));
    BOOST_TEST((*end)["state"] == "Completed", end->dump());
  }
  // The store holds the first job and the acknowledged ones, all ended.
  shoal::client::ListQuery all;
  all.limit = 0;
  auto jobs = c.list(all);
  BOOST_TEST_REQUIRE(jobs.has_value());
  BOOST_TEST(jobs->size() == got.accepted.size() + 1);
  for (const auto& j : *jobs) BOOST_TEST(j["state"] == "Completed", j.dump());
}

// A module that does not fit on the disk: every submission that needs it
// is refused, also one that arrived while the commit storing the module
// for an earlier one was under way (that commit fails; nothing may refer
// to what it would have stored).
BOOST_AUTO_TEST_CASE(a_module_that_does_not_fit_is_refused_with_every_job_that_needs_it,
                     *boost::unit_test::precondition(shoal::test::can_mount_tmpfs)) {
  NearlyFullDisk d(1 << 20);  // room for job records, not for the module
  const std::string module = shoal::test::padded(read_file(test_wasm("exit_code")), 4 << 20);
  auto job = [&](int code) {
    shoal::client::Submission s;
    s.spec = {{"module", "exit_code.wasm"}, {"args", {std::to_string(code)}}};
    s.module = module;
    return s;
  };
  auto got = submit_from_four_clients(d, 25, [&](int t, int i) { return job(t * 25 + i); });
  // Had one been accepted, it would have no module once the broker restarts.
  BOOST_TEST(got.accepted.empty());
  BOOST_TEST(got.refused == 100);

  d.free_space();
  auto c = d.connect();
  auto id = c.submit(job(5));
  BOOST_TEST_REQUIRE(id.has_value(), (id ? "" : id.error()));
  auto end = c.wait(*id);
  BOOST_TEST_REQUIRE(end.has_value());
  BOOST_TEST((*end)["exit_code"] == 5);
  shoal::client::ListQuery all;
  all.limit = 0;
  BOOST_TEST(c.list(all)->size() == 2u);
}

BOOST_AUTO_TEST_CASE(garbage_in_the_data_file_is_reported) {
  Used state;
  std::ofstream(state.store() + "/data.mdb", std::ios::trunc) << std::string(65536, '\x5a');
  refused(state, "store: " + state.store() +
                     "/data.mdb is not a shoal store (MDB_INVALID: File is not an LMDB file); "
                     "move it away or set SHOAL_HOME to another directory");
}

BOOST_AUTO_TEST_CASE(a_truncated_data_file_is_reported) {
  Used state;
  fs::resize_file(state.store() + "/data.mdb", 100);
  refused(state, "store: " + state.store() +
                     "/data.mdb is not a shoal store (MDB_INVALID: File is not an LMDB file); "
                     "move it away or set SHOAL_HOME to another directory");
}

BOOST_AUTO_TEST_CASE(a_directory_in_place_of_the_data_file_is_reported) {
  Used state;
  fs::remove(state.store() + "/data.mdb");
  fs::create_directory(state.store() + "/data.mdb");
  refused(state, "store: " + state.store() + "/data.mdb is not a regular file, so " +
                     state.store() +
                     " is not a shoal store; move it away or set SHOAL_HOME to another "
                     "directory");
}

BOOST_AUTO_TEST_CASE(a_file_in_place_of_the_store_directory_is_reported) {
  Used state;
  fs::remove_all(state.store());
  std::ofstream(state.store()) << "not a directory";
  Home h(state.path());
  const std::string message =
      "cannot create the state directory " + state.store() +
      ": Not a directory; move away what is in its place, or set SHOAL_HOME "
      "to another directory";
  auto serve = h.shoal({"serve"});
  BOOST_TEST(serve.status == 1);
  BOOST_TEST(serve.err == "shoal: " + message + "\n");
  auto list = h.shoal({"job", "list"});
  BOOST_TEST(list.status != 0);
  BOOST_TEST(list.err == "shoal: " + message + "\n");
}

// The state directory of another user: the broker, run as nobody, may not
// write it (root would pass every permission check, hence setpriv).
BOOST_AUTO_TEST_CASE(a_state_directory_that_is_not_ours_is_reported,
                     *boost::unit_test::precondition([](boost::unit_test::test_unit_id) {
                       boost::test_tools::assertion_result r(::geteuid() == 0 &&
                                                             fs::exists("/usr/bin/setpriv"));
                       r.message() << "skipped: needs root and setpriv";
                       return r;
                     })) {
  Used state;
  fs::permissions(state.path(), fs::perms::owner_all);
  auto r = shoal::test::run_process({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                     "--clear-groups", "/usr/bin/env", "SHOAL_HOME=" + state.path(),
                                     shoal::test::shoal_bin(), "serve"});
  BOOST_TEST(r.status == 1);
  BOOST_TEST(r.err == "shoal: cannot create the state directory " + state.path() +
                          "/run: Permission denied; move away what is in its place, or set "
                          "SHOAL_HOME to another directory\n",
             r.err);
}

namespace {

// A job that has written a 2 MiB output file and runs on (it times out
// after 1.5 s) on a disk that is then filled: the commit of its end fails.
// Returns the job's id once the disk is full.
std::string a_job_ending_on_a_full_disk(const Home& h, shoal::test::Tmpfs& disk) {
  auto s = h.shoal({"wasm", "run", "--wait=false", "--id-only", "--timeout", "1.5",
                    test_wasm("flood_files"), "hold", "/outputs/out.bin", "2"});
  BOOST_TEST_REQUIRE(s.status == 0, s.err);
  const std::string id = trim(s.out);
  for (int i = 0; i < 200 && !h.shoal({"job", "logs", id}).out.ends_with("written\n"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST_REQUIRE(h.job(id)["state"] == "Running");
  disk.fill("filler");
  return id;
}

// Waits for the job's end (the broker tells its followers, stored or not),
// frees the disk, and returns the job as the store has it once it is no
// longer Running.
json its_record_once_space_is_freed(const Home& h, shoal::test::Tmpfs& disk,
                                    const std::string& id) {
  h.shoal({"job", "wait", id});
  fs::remove(disk.path() + "/filler");
  json j;
  for (int i = 0; i < 200; ++i) {
    j = h.job(id);
    if (j["state"] != "Running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return j;
}

}  // namespace

// Regression: a_job_that_ended_while_the_disk_was_full_stayed_running. The
// commit that recorded the end (with the job's 2 MiB output file, which no
// longer fits) failed and was dropped whole, so the store kept the job
// Running until the broker restarted. The job's record is now written with
// the next commit that fits.
BOOST_AUTO_TEST_CASE(a_job_that_ended_while_the_disk_was_full_stayed_running,
                     *boost::unit_test::precondition(shoal::test::can_mount_tmpfs)) {
  shoal::test::Tmpfs disk("32m");
  Home h(disk.path());
  const std::string id = a_job_ending_on_a_full_disk(h, disk);
  json j = its_record_once_space_is_freed(h, disk, id);
  BOOST_TEST(j["state"] == "Failed");
  BOOST_TEST(j["message"] == "the program timed out after 1.5 s (--timeout)");
}

namespace {

// Waits (bounded) until the broker has let go of the state directory.
void wait_stopped(const Home& h) {
  h.shoal({"shutdown"});
  for (int i = 0; i < 1000 && h.locked(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_TEST_REQUIRE(!h.locked());
}

}  // namespace

// Regression: a_full_disk_left_a_job_listing_an_output_that_does_not_exist.
// The job's record was written again once space was freed, still listing
// its output file, whose bytes had been dropped with the failed commit:
// `job get` then failed for good. Now the record says the outputs were lost.
BOOST_AUTO_TEST_CASE(a_job_whose_outputs_did_not_fit_says_they_were_lost_and_job_get_works,
                     *boost::unit_test::precondition(shoal::test::can_mount_tmpfs)) {
  shoal::test::Tmpfs disk("32m");
  Home h(disk.path());
  const std::string id = a_job_ending_on_a_full_disk(h, disk);
  json j = its_record_once_space_is_freed(h, disk, id);
  BOOST_TEST(j["state"] == "Failed");
  BOOST_TEST(j["output_files"].empty(), j["output_files"].dump());
  const std::string lost =
      "the job's 1 output files (2097152 bytes) were lost: they could not be "
      "stored (store: no space left on the disk of " +
      disk.path() + "/store";
  BOOST_TEST(j["outputs_message"].get<std::string>().starts_with(lost), j["outputs_message"]);
  TempDir out;
  auto get = h.shoal({"job", "get", id, "--output-dir", out.path() + "/job"});
  BOOST_TEST(get.status == 0, get.err);
  BOOST_TEST(!fs::exists(out.path() + "/job/outputs/out.bin"));
  BOOST_TEST(read_file(out.path() + "/job/stdout").ends_with("written\n"));
}

// `shoal compact` gives the room of pruned jobs back to the disk, with the
// broker stopped; while it runs, compact says to stop it and changes nothing.
BOOST_AUTO_TEST_CASE(compact_gives_the_room_of_pruned_jobs_back_to_the_disk) {
  TempDir state;
  Home h(state.path());
  auto kept = h.shoal({"wasm", "run", "--id-only", test_wasm("exit_code"), "4"});
  BOOST_TEST_REQUIRE(kept.status == 4, kept.err);
  for (int i = 0; i < 4; ++i) {
    auto r = h.shoal(
        {"wasm", "run", "--id-only", test_wasm("flood_files"), "big", "/outputs/big.bin", "4"});
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
  }
  const std::string data = state.path() + "/store/data.mdb";
  auto running = h.shoal({"compact"});
  BOOST_TEST(running.status == 125);
  BOOST_TEST(running.err ==
             "shoal: shoal compact writes the store, which has one writer, the broker: stop it "
             "with `shoal shutdown` (running jobs are re-queued when it starts again) and run "
             "shoal compact again\n");
  // Prune all but the first job: its file keeps its size.
  const std::string first = trim(kept.out);
  for (const auto& j : json::parse(h.shoal({"job", "list", "--output", "json"}).out))
    if (j["ID"] != first) BOOST_TEST(h.shoal({"job", "delete", j["ID"]}).status == 0);
  h.shoal({"job", "list"});  // the deletions are committed before the shutdown
  const auto before = fs::file_size(data);
  wait_stopped(h);
  BOOST_TEST(fs::file_size(data) == before);
  auto c = h.shoal({"compact"});
  BOOST_TEST_REQUIRE(c.status == 0, c.err);
  const auto after = fs::file_size(data);
  BOOST_TEST(after < before / 4, after << " of " << before);
  BOOST_TEST(c.out.starts_with(data + ": "), c.out);
  BOOST_TEST(h.job(first)["exit_code"] == 4);
  auto doctor = h.shoal({"doctor"});
  BOOST_TEST(doctor.status == 0, doctor.out);
}

// A job's stdin is placed into its scratch directory from the store at
// dispatch (broker/run_builder.h, place_blob). When it cannot be (here the
// scratch directory is a disk too small for it), the job fails before it
// starts, naming stdin, instead of running with an empty stdin.
BOOST_AUTO_TEST_CASE(a_stdin_that_cannot_be_placed_fails_the_job_naming_stdin,
                     *boost::unit_test::precondition(shoal::test::can_mount_tmpfs)) {
  shoal::test::Tmpfs scratch("256k");
  TempDir home, files;
  fs::create_directory_symlink(scratch.path(), home.path() + "/scratch");
  Home h(home.path());
  const std::string input = files.path() + "/input.txt";
  std::ofstream(input) << std::string(1 << 20, 'x');
  auto r = h.shoal({"wasm", "run", "--stdin", input, test_wasm("stdin_echo")});
  BOOST_TEST(r.status == 126, r.err);
  BOOST_TEST(r.out.empty(), r.out.size() << " bytes of output: the job ran");
  BOOST_TEST(has(r.err, "cannot write stdin to the scratch directory: No space left on device"),
             r.err);
  // The scratch disk stays usable: a job with a stdin that fits runs.
  std::ofstream(files.path() + "/small.txt") << "fits\n";
  auto small =
      h.shoal({"wasm", "run", "--stdin", files.path() + "/small.txt", test_wasm("stdin_echo")});
  BOOST_TEST(small.status == 0, small.err);
  BOOST_TEST(small.out == "FITS\n");
}
