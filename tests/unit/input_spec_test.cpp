// The -i/--input and -o/--output values and the module argument of
// `shoal wasm run`: tables of values with the exact parse or message.
#include <boost/test/unit_test.hpp>

#include <map>
#include <string>
#include <vector>

#include "cli/input_spec.h"
#include "tests/support/process.h"

using shoal::cli::InputFlag;
using shoal::cli::ModuleArg;
using shoal::cli::normalize_guest_path;
using shoal::cli::OutputFlag;
using shoal::cli::parse_input;
using shoal::cli::parse_module;
using shoal::cli::parse_output;
using shoal::cli::PathKind;
using shoal::cli::SourceKind;

namespace {

// A file system of a few paths, so that the tables need no real files.
PathKind fake_probe(const std::string& path) {
  static const std::map<std::string, PathKind> paths = {
      {"./data.txt", PathKind::file},    {"data.txt", PathKind::file},
      {"/abs/file.csv", PathKind::file}, {"./dir", PathKind::directory},
      {"./dir/", PathKind::directory},   {"/srv/data", PathKind::directory},
      {"./odd:name", PathKind::file},    {"/", PathKind::directory},
  };
  auto it = paths.find(path);
  return it == paths.end() ? PathKind::missing : it->second;
}

InputFlag url(std::string source, std::string target,
              std::map<std::string, std::string> options = {}) {
  return InputFlag{SourceKind::url, std::move(source), std::move(target), false,
                   std::move(options)};
}
InputFlag file(std::string source, std::string target) {
  return InputFlag{SourceKind::local, std::move(source), std::move(target), false, {}};
}
InputFlag dir(std::string source, std::string target) {
  return InputFlag{SourceKind::local, std::move(source), std::move(target), true, {}};
}

std::string show(const InputFlag& f) {
  std::string s = (f.kind == SourceKind::url ? "url "
                   : f.is_directory          ? "dir "
                                             : "file ") +
                  f.source + " -> " + f.target;
  for (auto& [k, v] : f.options) s += " opt " + k + "=" + v;
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(good_input_values_parse_to_source_and_target) {
  const std::vector<std::pair<std::string, InputFlag>> table = {
      // SRC:DST, and URLs with ports (Bacalhau splits these at the last ':').
      {"https://example.com/data.txt:/inputs/data.txt",
       url("https://example.com/data.txt", "/inputs/data.txt")},
      {"http://127.0.0.1:8080/a.txt:/inputs/a.txt",
       url("http://127.0.0.1:8080/a.txt", "/inputs/a.txt")},
      {"https://host:8443/x", url("https://host:8443/x", "/inputs/x")},
      {"https://host:8443:/inputs/x", url("https://host:8443", "/inputs/x")},
      {"http://host:/data/x", url("http://host", "/data/x")},
      {"https://[::1]:8443/x:/data/x", url("https://[::1]:8443/x", "/data/x")},
      {"https://user:pw@host:8443/x", url("https://user:pw@host:8443/x", "/inputs/x")},
      {"HTTPS://HOST/X", url("HTTPS://HOST/X", "/inputs/X")},
      // Default targets from the URL's last path segment.
      {"https://host/dir/file%20name.csv",
       url("https://host/dir/file%20name.csv", "/inputs/file name.csv")},
      {"https://host/x.csv?sig=a:b&c=d#frag",
       url("https://host/x.csv?sig=a:b&c=d#frag", "/inputs/x.csv")},
      {"https://en.wikipedia.org/wiki/File:Foo.png",
       url("https://en.wikipedia.org/wiki/File:Foo.png", "/inputs/File:Foo.png")},
      {"https://web.archive.org/web/1/https://e.com/x",
       url("https://web.archive.org/web/1/https://e.com/x", "/inputs/x")},
      // Local files and directories.
      {"./data.txt", file("./data.txt", "/inputs/data.txt")},
      {"data.txt", file("data.txt", "/inputs/data.txt")},
      {"./data.txt:/inputs/custom.txt", file("./data.txt", "/inputs/custom.txt")},
      {"./dir", dir("./dir", "/inputs")},
      {"./dir/", dir("./dir/", "/inputs")},
      {"./dir:/data//sub/./", dir("./dir", "/data/sub")},
      {"./dir:/", dir("./dir", "/")},  // a directory may be the whole tree
      {"/srv/data:/srv/data", dir("/srv/data", "/srv/data")},
      {"file:///abs/file.csv", file("/abs/file.csv", "/inputs/file.csv")},
      {"file:///abs/file.csv:/in/f", file("/abs/file.csv", "/in/f")},
      {"./odd:name", file("./odd:name", "/inputs/odd:name")},
      // src=,dst=,opt= and its spellings.
      {"src=https://host:8443/x,dst=/inputs/y", url("https://host:8443/x", "/inputs/y")},
      {"dst=/inputs/y,src=https://host/x", url("https://host/x", "/inputs/y")},
      {"SOURCE=./dir,Target=/data", dir("./dir", "/data")},
      {"src=./data.txt,destination=/d.txt", file("./data.txt", "/d.txt")},
      {"src=./data.txt", file("./data.txt", "/inputs/data.txt")},
      {"src=https://h/x?a=1,2,dst=/in/x", url("https://h/x?a=1,2", "/in/x")},
      {"src=https://h/x:/inputs/y", url("https://h/x:/inputs/y", "/inputs/y")},
      {"\"src=https://h/a,dst=b\",dst=/x", url("https://h/a,dst=b", "/x")},
      {"\"src=https://h/say\"\"hi\"\"\",dst=/x", url("https://h/say\"hi\"", "/x")},
      {"src=https://h/x,opt=checksum-256=abc,option=k=v=w",
       url("https://h/x", "/inputs/x", {{"checksum-256", "abc"}, {"k", "v=w"}})},
      // Bacalhau's documented mix: SRC then KEY=VALUE fields.
      {"https://host/x,dst=/data/x", url("https://host/x", "/data/x")},
      {"https://host/x,opt=a=b", url("https://host/x", "/inputs/x", {{"a", "b"}})},
  };
  for (const auto& [value, want] : table) {
    BOOST_TEST_CONTEXT("--input " << value) {
      auto got = parse_input(value, fake_probe);
      BOOST_TEST_REQUIRE(got.has_value(), (got ? "" : got.error()));
      BOOST_TEST(show(*got) == show(want));
      BOOST_TEST((*got == want));
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_input_values_say_what_is_wrong) {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"", "--input: the value is empty"},
      {"ipfs://QmHash",
       "--input ipfs://QmHash: unsupported scheme \"ipfs\" (shoal takes http and "
       "https URLs, and local paths)"},
      {"s3://bucket/key:/inputs/k",
       "--input s3://bucket/key:/inputs/k: unsupported scheme \"s3\" "
       "(shoal takes http and https URLs, and local paths)"},
      {"./missing.txt", "--input ./missing.txt: no such file or directory"},
      {"src=./missing.txt,dst=/x",
       "--input src=./missing.txt,dst=/x: ./missing.txt: no such file "
       "or directory"},
      {"./data.txt:inputs/x",
       "--input ./data.txt:inputs/x: no such file or directory (a target "
       "after ':' must be an absolute guest path)"},
      {"https://host/x:/inputs/../etc",
       "--input https://host/x:/inputs/../etc: the guest path "
       "\"/inputs/../etc\" must not contain \"..\""},
      {"https://host/x:/",
       "--input https://host/x:/: only a directory can be mounted at / (the guest's whole file "
       "tree); name a file's path, such as /inputs/data.txt"},
      {"https://host/",
       "--input https://host/: the URL's path has no file name for the default "
       "target; give one as URL:/inputs/NAME"},
      {"https://host",
       "--input https://host: the URL's path has no file name for the default "
       "target; give one as URL:/inputs/NAME"},
      {"https://host/..",
       "--input https://host/..: the URL's path has no file name for the "
       "default target; give one as URL:/inputs/NAME"},
      {"https://host/a%2Fb",
       "--input https://host/a%2Fb: the URL's path has no file name for the "
       "default target; give one as URL:/inputs/NAME"},
      {"https://:8080/x", "--input https://:8080/x: the URL has no host"},
      {"https:///x", "--input https:///x: the URL has no host"},
      {"http://host:99999/x",
       "--input http://host:99999/x: the port \"99999\" is not a number "
       "from 1 to 65535"},
      {"http://host:0/x",
       "--input http://host:0/x: the port \"0\" is not a number from 1 to 65535"},
      {"http://host:80a/x",
       "--input http://host:80a/x: the port \"80a\" is not a number from 1 "
       "to 65535"},
      {"http://host:", "--input http://host:: the URL's port is empty"},
      {"https://[::1/x", "--input https://[::1/x: the URL's IPv6 address has no closing ']'"},
      {"https://h/a b", "--input https://h/a b: the URL contains a space or a control character"},
      {"file://", "--input file://: file:// needs a path"},
      {"src=https://h/a,src=https://h/b",
       "--input src=https://h/a,src=https://h/b: the source "
       "is given twice"},
      {"https://h/a:/x,dst=/y", "--input https://h/a:/x,dst=/y: the target is given twice"},
      {"dst=/x", "--input dst=/x: no src= given"},
      {"src=", "--input src=: the source is empty"},
      {"src=https://h/x,opt=rw", "--input src=https://h/x,opt=rw: opt=rw is not opt=KEY=VALUE"},
      {"src=https://h/x,opt==v", "--input src=https://h/x,opt==v: opt==v is not opt=KEY=VALUE"},
      {"src=https://h/x,opt=a=1,opt=a=2",
       "--input src=https://h/x,opt=a=1,opt=a=2: the option "
       "\"a\" is given twice"},
      {"src=https://h/x,\"foo=bar\"",
       "--input src=https://h/x,\"foo=bar\": \"foo=bar\" is not "
       "src=, dst= or opt="},
      {"\"src=https://h/x", "--input \"src=https://h/x: a quoted field has no closing '\"'"},
      {"\"src=https://h/x\"x",
       "--input \"src=https://h/x\"x: a quoted field must be followed by "
       "',' or the end"},
      {"src=https://h/x,dst=",
       "--input src=https://h/x,dst=: the guest path \"\" must be absolute"},
      {"src=https://h/x,dst=rel/x",
       "--input src=https://h/x,dst=rel/x: the guest path \"rel/x\" "
       "must be absolute"},
  };
  for (const auto& [value, want] : table) {
    BOOST_TEST_CONTEXT("--input " << value) {
      auto got = parse_input(value, fake_probe);
      BOOST_TEST_REQUIRE(!got.has_value(), (got ? show(*got) : ""));
      BOOST_TEST(got.error() == want);
    }
  }
}

BOOST_AUTO_TEST_CASE(local_sources_are_probed_as_given_and_urls_are_not_probed) {
  std::vector<std::string> probed;
  auto probe = [&](const std::string& p) {
    probed.push_back(p);
    return PathKind::file;
  };
  BOOST_TEST_REQUIRE(parse_input("../rel/x.txt:/in/x", probe).has_value());
  BOOST_TEST_REQUIRE(parse_input("https://h/x", probe).has_value());
  BOOST_TEST(probed == std::vector<std::string>{"../rel/x.txt"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_real_probe_tells_files_from_directories) {
  shoal::test::TempDir tmp;
  std::string f = tmp.path() + "/f.txt";
  FILE* out = std::fopen(f.c_str(), "w");
  BOOST_TEST_REQUIRE(out != nullptr);
  std::fclose(out);
  auto d = parse_input(tmp.path());
  BOOST_TEST_REQUIRE(d.has_value(), (d ? "" : d.error()));
  BOOST_TEST(d->is_directory);
  BOOST_TEST(d->target == "/inputs");
  auto fl = parse_input(f);
  BOOST_TEST_REQUIRE(fl.has_value(), (fl ? "" : fl.error()));
  BOOST_TEST(!fl->is_directory);
  BOOST_TEST(fl->target == "/inputs/f.txt");
  BOOST_TEST(parse_input(tmp.path() + "/nope").error() ==
             "--input " + tmp.path() + "/nope: no such file or directory");
}

BOOST_AUTO_TEST_CASE(output_values_parse_to_name_and_path) {
  const std::vector<std::pair<std::string, OutputFlag>> good = {
      {"results:/custom/path", {"results", "/custom/path"}},
      {"outputs:/outputs", {"outputs", "/outputs"}},
      {"a.b_c-D9:/x//y/", {"a.b_c-D9", "/x/y"}},
      {"results:/a:b", {"results", "/a:b"}},
  };
  for (const auto& [value, want] : good) {
    BOOST_TEST_CONTEXT("--output " << value) {
      auto got = parse_output(value);
      BOOST_TEST_REQUIRE(got.has_value(), (got ? "" : got.error()));
      BOOST_TEST(got->name == want.name);
      BOOST_TEST(got->path == want.path);
    }
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "--output: the value is empty"},
      {"results", "--output results: expected NAME:PATH, e.g. results:/outputs/results"},
      {":/x", "--output :/x: the name before ':' is empty"},
      {"a/b:/x",
       "--output a/b:/x: the output name \"a/b\" may use only letters, digits, '.', '_' and '-'"},
      {"..:/x", "--output ..:/x: the output name \"..\" is not a usable directory name"},
      {"stdout:/o",
       "--output stdout:/o: the output name \"stdout\" is taken by the file of that name that "
       "`shoal job get` writes; choose another"},
      {"results:custom", "--output results:custom: the guest path \"custom\" must be absolute"},
      {"results:", "--output results:: the guest path \"\" must be absolute"},
      {"results:/",
       "--output results:/: an output cannot be / itself; name a directory such as /outputs"},
      {"results:/a/../b",
       "--output results:/a/../b: the guest path \"/a/../b\" must not contain \"..\""},
  };
  for (const auto& [value, want] : bad) {
    BOOST_TEST_CONTEXT("--output " << value) {
      auto got = parse_output(value);
      BOOST_TEST_REQUIRE(!got.has_value());
      BOOST_TEST(got.error() == want);
    }
  }
}

BOOST_AUTO_TEST_CASE(module_arguments_are_urls_or_local_paths) {
  const std::vector<std::pair<std::string, ModuleArg>> good = {
      {"program.wasm", {SourceKind::local, "program.wasm", std::nullopt}},
      {"./m.wasm:/app/main.wasm", {SourceKind::local, "./m.wasm", "/app/main.wasm"}},
      {"http://127.0.0.1:8080/m.wasm",
       {SourceKind::url, "http://127.0.0.1:8080/m.wasm", std::nullopt}},
      {"https://host:8443/m.wasm:/app/m.wasm",
       {SourceKind::url, "https://host:8443/m.wasm", "/app/m.wasm"}},
      {"file:///abs/m.wasm", {SourceKind::local, "/abs/m.wasm", std::nullopt}},
  };
  for (const auto& [value, want] : good) {
    BOOST_TEST_CONTEXT("module " << value) {
      auto got = parse_module(value);
      BOOST_TEST_REQUIRE(got.has_value(), (got ? "" : got.error()));
      BOOST_TEST((got->kind == want.kind));
      BOOST_TEST(got->source == want.source);
      BOOST_TEST((got->target == want.target));
    }
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "module: the value is empty"},
      {"s3://b/k",
       "module s3://b/k: unsupported scheme \"s3\" (shoal takes http and https URLs, "
       "and local paths)"},
      {"http://host:0/m.wasm",
       "module http://host:0/m.wasm: the port \"0\" is not a number from 1 "
       "to 65535"},
      {"./m.wasm:/", "module ./m.wasm:/: a module is a file, it cannot be mounted at / itself"},
  };
  for (const auto& [value, want] : bad) {
    BOOST_TEST_CONTEXT("module " << value) {
      auto got = parse_module(value);
      BOOST_TEST_REQUIRE(!got.has_value());
      BOOST_TEST(got.error() == want);
    }
  }
}

BOOST_AUTO_TEST_CASE(guest_paths_are_normalised) {
  BOOST_TEST(*normalize_guest_path("/a//b/./c/") == "/a/b/c");
  BOOST_TEST(*normalize_guest_path("/inputs") == "/inputs");
  BOOST_TEST(*normalize_guest_path("//") == "/");
  using namespace std::string_literals;
  BOOST_TEST(normalize_guest_path("/a\0b"s).error() ==
             "the guest path \"/a\0b\" contains a NUL byte"s);
}
