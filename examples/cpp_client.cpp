// A C++ program driving shoal through its client library (client/client.h):
// runs a WebAssembly module once per name given, all at once, then prints
// each job's output in order and exits 0 when every job completed with exit
// code 0.
//
//   cpp_client MODULE.wasm NAME...        (e.g. build/examples/hello.wasm Ada Grace)
//
// It uses the broker of $SHOAL_HOME (or ~/.local/state/shoal), starting one
// with the `shoal` on $PATH when none runs.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "client/client.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: cpp_client MODULE.wasm NAME...\n";
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::cerr << "cpp_client: cannot read " << argv[1] << "\n";
    return 2;
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();

  auto client = shoal::client::Client::connect();
  if (!client) {
    std::cerr << "cpp_client: " << client.error() << "\n";
    return 2;
  }

  // Submit everything first: the broker runs the jobs on all its workers.
  std::vector<std::string> ids;
  for (int i = 2; i < argc; ++i) {
    shoal::client::Submission job;
    job.spec = {{"module", argv[1]},
                {"args", {argv[i]}},
                {"env", {"GREETING=Hello"}},
                {"labels", {{"example", "cpp_client"}}}};
    job.module = bytes.str();
    auto id = client->submit(job);
    if (!id) {
      std::cerr << "cpp_client: " << id.error() << "\n";
      return 2;
    }
    ids.push_back(*id);
  }

  int failures = 0;
  for (const auto& id : ids) {
    auto job = client->wait(id);
    if (!job) {
      std::cerr << "cpp_client: " << job.error() << "\n";
      return 2;
    }
    std::string out;
    auto logs = client->logs(id, shoal::client::Stream::stdout_only, false,
                             [&](const std::string&, const std::string& data) { out += data; });
    if (!logs) {
      std::cerr << "cpp_client: " << logs.error() << "\n";
      return 2;
    }
    std::string state = (*job)["state"];
    bool ok = state == "Completed" && (*job)["exit_code"] == 0;
    if (!ok) ++failures;
    std::printf("%s %s: %s", id.substr(0, 10).c_str(), state.c_str(), out.c_str());
  }
  std::printf("%zu jobs, %d failed\n", ids.size(), failures);
  return failures == 0 ? 0 : 1;
}
