// The WASI host's answers, call by call, as guests see them through
// `shoal exec`: the guests in this folder print "<check> <observed>" lines,
// and each case here holds, for one behaviour, the lines Linux's answers
// give (errno names without the E). Each guest runs once, on first use.
#include <boost/test/unit_test.hpp>

#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "tests/support/process.h"

using shoal::test::ProcessResult;
using shoal::test::required_env;
using shoal::test::run_process;
using shoal::test::TempDir;

namespace {

using Checks = std::vector<std::pair<std::string, std::string>>;

std::string guest(const std::string& name) {
  return required_env("SHOAL_CONFORMANCE_DIR") + "/" + name + ".wasm";
}

struct GuestRun {
  TempDir sandbox;  // mounted read-write at /sandbox, empty at start
  ProcessResult result;
  std::map<std::string, std::string> lines;  // check -> observed
  std::vector<std::string> order;            // checks as printed
};

// Runs the guest with `args` (after the module) and splits its output.
std::unique_ptr<GuestRun> run_guest(const std::string& name, const std::vector<std::string>& flags,
                                    const std::vector<std::string>& args) {
  auto run = std::make_unique<GuestRun>();
  std::vector<std::string> argv = {required_env("SHOAL_BIN"), "exec", "--dir",
                                   run->sandbox.path() + "::/sandbox"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back(guest(name));
  argv.insert(argv.end(), args.begin(), args.end());
  run->result = run_process(argv);
  std::istringstream in(run->result.out);
  for (std::string line; std::getline(in, line);) {
    auto space = line.find(' ');
    std::string check = line.substr(0, space);
    run->lines[check] = space == std::string::npos ? "" : line.substr(space + 1);
    run->order.push_back(check);
  }
  return run;
}

const GuestRun& fs_calls() {
  static const std::unique_ptr<GuestRun> run = run_guest("fs_calls", {}, {});
  return *run;
}
const GuestRun& fd_calls() {
  static const std::unique_ptr<GuestRun> run = run_guest("fd_calls", {}, {});
  return *run;
}
const GuestRun& process_calls() {
  static const std::unique_ptr<GuestRun> run =
      run_guest("process_calls", {"-e", "K=V", "-e", "EMPTY="}, {"one", "two words"});
  return *run;
}

void expect(const GuestRun& run, const Checks& checks) {
  BOOST_TEST(run.result.status == 0, run.result.out + run.result.err);
  for (const auto& [check, value] : checks) {
    BOOST_TEST_CONTEXT("check " << check) {
      auto it = run.lines.find(check);
      BOOST_TEST((it != run.lines.end()), "the guest printed no line for it");
      if (it != run.lines.end()) BOOST_TEST(it->second == value);
    }
  }
}

// Every line the guest printed is one of `groups`' checks, and none is
// missing: no check goes unasserted.
void expect_complete(const GuestRun& run, const std::vector<const Checks*>& groups) {
  std::multiset<std::string> want;
  for (const Checks* g : groups)
    for (const auto& c : *g) want.insert(c.first);
  std::multiset<std::string> got(run.order.begin(), run.order.end());
  BOOST_TEST(got == want, "guest printed:\n" << run.result.out << run.result.err);
  BOOST_TEST(run.result.err == "");
}

// ---- fs_calls.c -----------------------------------------------------------

const Checks kReaddir = {
    {"readdir_lists_dot_and_dotdot", "..:DIR .:DIR a:REG b:REG l:SYMLINK sub:DIR"},
    {"readdir_resumes_from_cookie", "..:DIR .:DIR a:REG b:REG l:SYMLINK sub:DIR"},
    {"open_dir_asking_fd_write", "ISDIR"},
    {"readdir_on_a_file", "NOTDIR"},
};
const Checks kTimestamps = {
    {"path_set_times", "SUCCESS"},
    {"path_times_keep_nanoseconds", "1600000000123456789 1700000000987654321"},
    {"fd_set_times", "SUCCESS"},
    {"fd_times_keep_nanoseconds", "1000000001 2000000002"},
    {"set_mtim_leaves_atim", "1000000001 3000000003"},
    {"set_and_now_together_is_inval", "INVAL"},
};
const Checks kReadlink = {
    {"readlink_short_buffer_truncates", "SUCCESS 6 a-rath"},
    {"readlink_whole", "SUCCESS 20 a-rather-long-target"},
    {"readlink_empty_buffer", "INVAL"},
    {"readlink_not_a_link", "INVAL"},
};
const Checks kSymlinks = {
    {"open_symlink_nofollow", "LOOP"},
    {"open_symlink_nofollow_directory", "NOTDIR"},
    {"open_symlink_follow_directory", "SUCCESS"},
    {"open_symlink_trailing_slash_follows", "SUCCESS"},
    {"open_dangling_inside_path", "NOENT"},
    {"open_dangling_follow", "NOENT"},
    {"stat_dangling_nofollow", "SUCCESS SYMLINK"},
    {"stat_symlink_follow", "SUCCESS REG 1"},
    {"creat_through_dangling_creates_target", "SUCCESS"},
    {"created_target_exists", "SUCCESS"},
    {"creat_excl_on_dangling", "EXIST"},
    {"creat_excl_left_target_alone", "NOENT"},
    {"mkdir_dangling_with_slash", "EXIST"},
    {"mkdir_dangling_with_slash_left_target_alone", "NOENT"},
    {"symlink_over_existing", "EXIST"},
};
const Checks kNul = {
    {"open_path_with_nul", "INVAL"},
    {"mkdir_path_with_nul", "INVAL"},
    {"nul_created_nothing", "NOENT"},
};
const Checks kTrailingSlash = {
    {"open_file_with_slash", "NOTDIR"},
    {"open_creat_with_slash", "ISDIR"},
    {"stat_file_with_slash", "NOTDIR"},
    {"unlink_file_with_slash", "NOTDIR"},
    {"unlink_dir_with_slash", "ISDIR"},
    {"unlink_symlink_to_dir_with_slash", "NOTDIR"},
    {"rmdir_symlink_to_dir_with_slash", "NOTDIR"},
    {"symlinked_dir_survives", "SUCCESS"},
    {"rename_onto_symlink_with_slash", "NOTDIR"},
    {"mkdir_with_slash", "SUCCESS"},
    {"readlink_file_with_slash", "NOTDIR"},
    {"readlink_symlink_to_dir_with_slash", "INVAL"},
};
const Checks kFdFlags = {
    {"fdstat_reports_append", "REG 1"},
    {"append_writes_at_end", "12345x"},
    {"clear_append", "SUCCESS"},
    {"fdstat_after_clear", "0"},
};
const Checks kHolesAndPositionalIo = {
    {"seek_past_end", "SUCCESS 10"},
    {"hole_reads_as_zeros", "12 61 62 00 00 00 00 00 00 00 00 63 64"},
    {"pread_pwrite_keep_offset", "cd 2 2"},
    {"pwrite_wrote_at_offset", "Zb"},
    {"pread_past_end", "SUCCESS 0"},
    {"seek_before_start", "INVAL"},
    {"set_size_grows", "SUCCESS 100"},
    {"read_a_directory", "ISDIR"},
};
const Checks kRenameAndRemove = {
    {"rename_over_existing_file", "SUCCESS"},
    {"rename_target_has_source_content", "one"},
    {"rename_source_is_gone", "<NOENT>"},
    {"rename_dir_over_file", "NOTDIR"},
    {"rename_file_over_dir", "ISDIR"},
    {"rename_dir_over_nonempty_dir", "NOTEMPTY"},
    {"rename_dir_into_itself", "INVAL"},
    {"rename_dir_over_empty_dir", "SUCCESS"},
    {"rename_missing", "NOENT"},
    {"rmdir_nonempty", "NOTEMPTY"},
    {"rmdir_file", "NOTDIR"},
    {"rmdir_dot", "INVAL"},
    {"rmdir_dotdot", "NOTEMPTY"},
    {"unlink_dir", "ISDIR"},
    {"unlink_missing", "NOENT"},
    {"mkdir_existing", "EXIST"},
    {"link_dir", "PERM"},
    {"link_over_existing", "EXIST"},
    {"link_file", "SUCCESS"},
    {"link_count", "2"},
    {"open_missing", "NOENT"},
    {"creat_excl_existing", "EXIST"},
    {"open_directory_flag_on_file", "NOTDIR"},
    {"unlink_file", "SUCCESS"},
    {"rmdir_emptied", "SUCCESS"},
};

// ---- fd_calls.c -----------------------------------------------------------

const Checks kRights = {
    {"write_without_fd_write", "NOTCAPABLE"},
    {"set_size_without_its_right", "NOTCAPABLE"},
    {"set_times_without_its_right", "NOTCAPABLE"},
    {"tell_without_fd_tell", "NOTCAPABLE"},
    {"gaining_a_right", "NOTCAPABLE"},
    {"dropping_fd_read", "SUCCESS"},
    {"rights_after_drop", "read=no seek=yes"},
    {"read_without_fd_read", "NOTCAPABLE"},
    {"pread_without_fd_read", "NOTCAPABLE"},
    {"regaining_a_dropped_right", "NOTCAPABLE"},
    {"fdstat_needs_no_right", "SUCCESS"},
    {"open_narrowed_by_inheriting", "SUCCESS read=yes seek=no"},
    {"create_without_path_create_file", "NOTCAPABLE"},
    {"truncate_without_path_filestat_set_size", "NOTCAPABLE"},
    {"mkdir_without_its_right", "NOTCAPABLE"},
    {"unlink_without_its_right", "NOTCAPABLE"},
    {"readdir_without_fd_readdir", "NOTCAPABLE"},
    {"refused_truncate_left_size", "5"},
    {"truncate_with_its_right", "SUCCESS 0"},
};
const Checks kRenumber = {
    {"renumber", "SUCCESS"},
    {"renumbered_fd_reads_source", "SUCCESS contents of A"},
    {"renumber_source_is_closed", "BADF"},
    {"renumber_to_a_closed_fd", "BADF"},
    {"renumber_from_a_closed_fd", "BADF"},
    {"renumber_onto_itself", "SUCCESS"},
    {"close", "SUCCESS"},
    {"close_twice", "BADF"},
};
const Checks kSockets = {
    {"sock_recv_closed_fd", "BADF"},     {"sock_recv_file", "NOTSOCK"},
    {"sock_send_file", "NOTSOCK"},       {"sock_send_closed_fd", "BADF"},
    {"sock_shutdown_stdout", "NOTSOCK"}, {"sock_shutdown_closed_fd", "BADF"},
    {"sock_accept_preopen", "NOTSOCK"},  {"sock_accept_closed_fd", "BADF"},
};
// The guests run under `shoal exec` with their stdout on a pipe, which the
// guest is told is of unknown type (not a terminal), as Linux's isatty says.
const Checks kStreamsAndFiles = {
    {"seek_stdout", "SPIPE"},        {"tell_stderr", "SPIPE"},
    {"stdout_filetype", "UNKNOWN"},  {"seek_bad_whence", "INVAL"},
    {"seek_from_end", "SUCCESS 10"}, {"sync_file", "SUCCESS"},
    {"datasync_file", "SUCCESS"},    {"advise_file", "SUCCESS"},
    {"allocate_file", "SUCCESS"},    {"allocate_grows_size", "4096"},
};
const Checks kPrestat = {
    {"prestat", "SUCCESS tag=0 len=8"},
    {"prestat_dir_name", "SUCCESS /sandbox"},
    {"prestat_dir_name_short_buffer", "NAMETOOLONG"},
    {"prestat_of_stdout", "BADF"},
    {"prestat_of_closed_fd", "BADF"},
};
const Checks kFaults = {
    {"write_iovec_array_out_of_memory", "FAULT"},
    {"write_buffer_out_of_memory", "FAULT"},
    {"result_pointer_out_of_memory", "FAULT"},
};

// ---- process_calls.c ------------------------------------------------------

Checks args_and_environ() {
  // argv[0] is the module path as typed; "one" and "two words" follow.
  const size_t arg_bytes = guest("process_calls").size() + 1 + 4 + 10;
  return {
      {"args_sizes", "3 " + std::to_string(arg_bytes)},
      {"args", "[one] [two words]"},
      {"args_are_packed", "yes"},
      {"environ_sizes", "2 11"},
      {"environ", "[K=V] [EMPTY=]"},
  };
}
const Checks kClocks = {
    {"clock_res_realtime", "SUCCESS 1ns..1ms"},
    {"clock_res_monotonic", "SUCCESS 1ns..1ms"},
    {"clock_res_unknown_clock", "INVAL"},
    {"monotonic_never_goes_back", "yes"},
    {"realtime_is_nanoseconds_since_epoch", "yes"},
    {"clock_time_unknown_clock", "INVAL"},
    {"process_cputime", "SUCCESS"},
};
const Checks kRandom = {
    {"random_buffers_differ", "yes nonzero"},
    {"random_zero_length", "SUCCESS"},
    {"random_out_of_memory", "FAULT"},
    {"random_one_mebibyte", "SUCCESS"},
};
const Checks kPoll = {
    {"poll_relative_clock", "SUCCESS 1 [42 CLOCK SUCCESS]"},
    {"poll_waited_for_the_deadline", "yes"},
    {"poll_absolute_clock_in_the_past", "SUCCESS 1 [7 CLOCK SUCCESS]"},
    {"poll_stdout_ready_before_deadline", "SUCCESS 1 [2 FD_WRITE SUCCESS]"},
    {"poll_closed_fd", "SUCCESS 1 [3 FD_READ BADF]"},
    {"poll_unknown_clock", "SUCCESS 1 [4 CLOCK INVAL]"},
    {"poll_no_subscriptions", "INVAL"},
};
const Checks kProc = {
    {"proc_raise", "NOSYS"},
    {"sched_yield", "SUCCESS"},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(file_system)

BOOST_AUTO_TEST_CASE(readdir_lists_dot_and_dotdot_and_resumes_from_its_cookie) {
  expect(fs_calls(), kReaddir);
}
BOOST_AUTO_TEST_CASE(timestamps_keep_their_nanoseconds) {
  expect(fs_calls(), kTimestamps);
}
BOOST_AUTO_TEST_CASE(readlink_truncates_into_a_short_buffer) {
  expect(fs_calls(), kReadlink);
}
BOOST_AUTO_TEST_CASE(symlinks_are_followed_only_when_asked_and_dangling_ones_as_linux_does) {
  expect(fs_calls(), kSymlinks);
}
BOOST_AUTO_TEST_CASE(a_path_with_a_nul_byte_is_einval) {
  expect(fs_calls(), kNul);
}
BOOST_AUTO_TEST_CASE(a_trailing_slash_demands_a_directory_and_never_removes_a_symlink_target) {
  expect(fs_calls(), kTrailingSlash);
}
BOOST_AUTO_TEST_CASE(fdstat_reports_append) {
  expect(fs_calls(), kFdFlags);
}
BOOST_AUTO_TEST_CASE(seeking_past_the_end_makes_a_hole_and_pread_pwrite_keep_the_offset) {
  expect(fs_calls(), kHolesAndPositionalIo);
}
BOOST_AUTO_TEST_CASE(rename_and_removal_answer_with_linux_errnos) {
  expect(fs_calls(), kRenameAndRemove);
}
BOOST_AUTO_TEST_CASE(every_file_system_check_is_asserted) {
  expect_complete(fs_calls(),
                  {&kReaddir, &kTimestamps, &kReadlink, &kSymlinks, &kNul, &kTrailingSlash,
                   &kFdFlags, &kHolesAndPositionalIo, &kRenameAndRemove});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(descriptors)

BOOST_AUTO_TEST_CASE(rights_can_only_be_dropped_and_each_call_needs_its_own) {
  expect(fd_calls(), kRights);
}
BOOST_AUTO_TEST_CASE(renumber_moves_an_fd_onto_an_open_one) {
  expect(fd_calls(), kRenumber);
}
BOOST_AUTO_TEST_CASE(sockets_are_ebadf_when_closed_and_enotsock_otherwise) {
  expect(fd_calls(), kSockets);
}
BOOST_AUTO_TEST_CASE(streams_do_not_seek_and_files_sync_advise_and_allocate) {
  expect(fd_calls(), kStreamsAndFiles);
}
BOOST_AUTO_TEST_CASE(preopens_report_their_guest_path) {
  expect(fd_calls(), kPrestat);
}
BOOST_AUTO_TEST_CASE(pointers_past_memory_are_efault) {
  expect(fd_calls(), kFaults);
}
BOOST_AUTO_TEST_CASE(every_descriptor_check_is_asserted) {
  expect_complete(fd_calls(),
                  {&kRights, &kRenumber, &kSockets, &kStreamsAndFiles, &kPrestat, &kFaults});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(process)

BOOST_AUTO_TEST_CASE(args_and_environ_sizes_count_the_nul_bytes) {
  expect(process_calls(), args_and_environ());
}
BOOST_AUTO_TEST_CASE(clocks_answer_in_nanoseconds_and_refuse_unknown_ids) {
  expect(process_calls(), kClocks);
}
BOOST_AUTO_TEST_CASE(random_get_fills_the_buffer) {
  expect(process_calls(), kRandom);
}
BOOST_AUTO_TEST_CASE(poll_oneoff_honours_clocks_and_reports_fds) {
  expect(process_calls(), kPoll);
}
BOOST_AUTO_TEST_CASE(proc_raise_is_enosys) {
  expect(process_calls(), kProc);
}
BOOST_AUTO_TEST_CASE(every_process_check_is_asserted) {
  const Checks args = args_and_environ();
  expect_complete(process_calls(), {&args, &kClocks, &kRandom, &kPoll, &kProc});
}

BOOST_AUTO_TEST_SUITE_END()
