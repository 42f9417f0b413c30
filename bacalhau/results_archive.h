// A job's results as one archive, the layout `shoal job get` writes and
// `bacalhau job get` unpacks: a gzip-compressed tar whose entries are
// `stdout`, `stderr`, `exitCode` (when the job has one) and each output
// file as OUTPUT/PATH. The REST API writes it (GET .../results/ID.tar.gz,
// api/results.cpp); the `shoal` command over HTTP reads it (cli/).
//
// Tar entries are POSIX ustar; a path longer than 100 bytes is carried by
// a GNU long-name entry ('L') before it. Both classes work on a stream:
// neither holds the whole archive. Not thread-safe; one thread per object.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::bacalhau {

class ResultsWriter {
 public:
  ResultsWriter();
  ~ResultsWriter();
  ResultsWriter(const ResultsWriter&) = delete;
  ResultsWriter& operator=(const ResultsWriter&) = delete;

  // Adds a file at `path` (relative, '/'-separated; checked by the reader)
  // with `bytes`; returns the compressed bytes ready so far.
  std::string add(const std::string& path, std::string_view bytes);
  // Ends the archive; returns the rest of the compressed bytes.
  std::string finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Unpacks an archive under `dir` as its bytes arrive. An entry whose path
// is absolute or climbs out (`..`), or that is neither a file nor a
// directory, is refused with an error naming it; nothing is written outside
// `dir`. A file that exists there (a symlink too) is never replaced: the
// error names it.
class ResultsReader {
 public:
  explicit ResultsReader(std::filesystem::path dir);
  ~ResultsReader();
  ResultsReader(const ResultsReader&) = delete;
  ResultsReader& operator=(const ResultsReader&) = delete;

  std::expected<void, std::string> feed(std::string_view compressed);
  // The files written; an error when the archive ended early.
  std::expected<std::vector<std::filesystem::path>, std::string> finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::bacalhau
