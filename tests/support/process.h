// Running a program as a user would, for integration tests: its stdout,
// stderr and exit status.
#pragma once

#include <string>
#include <vector>

namespace shoal::test {

struct ProcessResult {
  std::string out;
  std::string err;
  int status = -1;  // exit status, or 128 + signal number
};

// Runs argv[0] (searched on PATH when it has no slash) with `input` on its
// stdin, and waits for it.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = "");

// The value of an environment variable the test harness must set.
std::string required_env(const char* name);

// $SHOAL_TEST_WASM_DIR/name.wasm
std::string test_wasm(const std::string& name);

// The whole file's bytes; empty when it cannot be read.
std::string read_file(const std::string& path);

// A fresh directory under the system's temporary directory, removed by the
// destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace shoal::test
