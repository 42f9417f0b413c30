// Turns the mounts of a Config into the directories the guest is given.
//
// WASI preopens only directories, so a mount of a single regular file is
// offered through its guest parent directory: every file mounted under one
// guest directory shares a staged host directory (staged_dir.h) preopened
// there, read-only. Guest paths are compared after normalisation ("/a//b/"
// and "/a/./b" are "/a/b"), and two mounts that would claim the same guest
// directory are refused with a message naming both.
#pragma once

#include <expected>
#include <string>
#include <vector>

#include "wasi/environment.h"

namespace shoal::wasi {

struct PlannedPreopen {
  // The name fd_prestat_dir_name reports: a directory mount's guest path as
  // given; the normalised parent directory for staged files.
  std::string guest_path;
  // The host directory to open; empty for a staged directory.
  std::string host_dir;
  // For a staged directory: the files to place in it, in order.
  struct File {
    std::string host_path;
    std::string name;    // its name in the directory
    std::string origin;  // the mount as messages name it
  };
  std::vector<File> files;
  bool read_only = false;
  // The mount that created it, as messages name it.
  std::string origin;
};

// One preopen per directory mount and per guest directory holding file
// mounts, in the order their first mount was given. Fails with a message
// naming the mount (and, for a conflict, both mounts): "mount HOST at
// GUEST", or with `guest_terms_only` "the mount at GUEST".
std::expected<std::vector<PlannedPreopen>, std::string> plan_mounts(
    const std::vector<Mount>& mounts, bool guest_terms_only = false);

// "/a//./b/" -> "/a/b"; "" or "./" -> "."; "/" stays "/". ".." is kept as
// written: the guest's libc resolves paths against preopen names lexically.
std::string normalize_guest_path(const std::string& path);

}  // namespace shoal::wasi
