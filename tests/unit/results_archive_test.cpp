// The results archive (bacalhau/results_archive.h): what the writer packs
// the reader unpacks byte for byte, long paths included, fed in pieces of
// any size; an entry that would land outside the directory, or on a file
// or symlink already there, is refused and nothing is written for it; a cut
// archive is an error.
#include <unistd.h>

#include <zlib.h>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bacalhau/results_archive.h"

namespace b = shoal::bacalhau;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/shoal-results-archive-test.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// `compressed` fed to a reader of `dir` in pieces of `step` bytes.
std::expected<std::vector<fs::path>, std::string> unpack(const std::string& compressed,
                                                         const fs::path& dir, size_t step) {
  b::ResultsReader reader(dir);
  for (size_t at = 0; at < compressed.size(); at += step)
    if (auto ok = reader.feed(std::string_view(compressed).substr(at, step)); !ok)
      return std::unexpected(ok.error());
  return reader.finish();
}

// A gzip'd tar with one entry named `name` (made with the writer, whose
// checks are the reader's to make).
std::string archive_of(const std::string& name) {
  b::ResultsWriter w;
  std::string out = w.add(name, "x");
  return out + w.finish();
}

}  // namespace

BOOST_AUTO_TEST_CASE(what_is_written_is_read_back) {
  const std::string long_path = "out/" + std::string(120, 'd') + "/" + std::string(60, 'f');
  std::string big(200000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  b::ResultsWriter w;
  std::string compressed = w.add("stdout", "hello\n");
  compressed += w.add("stderr", "");
  compressed += w.add("exitCode", "3");
  compressed += w.add(long_path, big);
  compressed += w.finish();
  for (size_t step : {size_t{1}, size_t{7}, size_t{4096}, compressed.size()}) {
    TempDir d;
    auto files = unpack(compressed, d.path, step);
    BOOST_REQUIRE_MESSAGE(files.has_value(), (files ? std::string() : files.error()));
    BOOST_TEST(files->size() == 4u);
    BOOST_TEST(read(d.path / "stdout") == "hello\n");
    BOOST_TEST(read(d.path / "stderr") == "");
    BOOST_TEST(read(d.path / "exitCode") == "3");
    BOOST_TEST((read(d.path / long_path) == big));
  }
}

BOOST_AUTO_TEST_CASE(an_entry_outside_the_directory_is_refused) {
  for (std::string name : {"../escaped", "/etc/escaped", "out/../../escaped"}) {
    TempDir d;
    fs::path inside = d.path / "in";
    auto files = unpack(archive_of(name), inside, 4096);
    BOOST_REQUIRE(!files);
    BOOST_TEST(files.error() ==
               "results archive entry '" + name + "': not a path inside " + inside.string());
    BOOST_TEST(!fs::exists(d.path / "escaped"));
  }
}

BOOST_AUTO_TEST_CASE(a_file_or_symlink_already_there_is_never_replaced) {
  TempDir d;
  { std::ofstream(d.path / "kept") << "mine"; }
  fs::create_symlink(d.path / "elsewhere", d.path / "linked");
  for (std::string name : {"kept", "linked"}) {
    auto files = unpack(archive_of(name), d.path, 4096);
    BOOST_REQUIRE(!files);
    BOOST_TEST(files.error() == (d.path / name).string() +
                                    " already exists: results never replace a file; write them "
                                    "to a new or empty directory");
  }
  BOOST_TEST(read(d.path / "kept") == "mine");
  BOOST_TEST(!fs::exists(d.path / "elsewhere"));
}

BOOST_AUTO_TEST_CASE(a_cut_or_foreign_archive_is_an_error) {
  TempDir d;
  std::string whole = archive_of("stdout");
  auto cut = unpack(whole.substr(0, whole.size() / 2), d.path, 4096);
  BOOST_REQUIRE(!cut);
  BOOST_TEST(cut.error() == "the results archive ended early");
  auto foreign = unpack("not gzip at all", d.path, 4096);
  BOOST_REQUIRE(!foreign);
  BOOST_TEST(foreign.error().starts_with("the results archive is not gzip data"));
}
