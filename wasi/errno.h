// WASI Preview 1 error numbers, and the one place host errno values are
// translated into them.
#pragma once

#include <cstdint>
#include <expected>
#include <string_view>

namespace shoal::wasi {

// The values are the ABI's (wasi_snapshot_preview1 `errno`), in order.
enum class Errno : uint16_t {
  success,
  toobig,
  acces,
  addrinuse,
  addrnotavail,
  afnosupport,
  again,
  already,
  badf,
  badmsg,
  busy,
  canceled,
  child,
  connaborted,
  connrefused,
  connreset,
  deadlk,
  destaddrreq,
  dom,
  dquot,
  exist,
  fault,
  fbig,
  hostunreach,
  idrm,
  ilseq,
  inprogress,
  intr,
  inval,
  io,
  isconn,
  isdir,
  loop,
  mfile,
  mlink,
  msgsize,
  multihop,
  nametoolong,
  netdown,
  netreset,
  netunreach,
  nfile,
  nobufs,
  nodev,
  noent,
  noexec,
  nolck,
  nolink,
  nomem,
  nomsg,
  noprotoopt,
  nospc,
  nosys,
  notconn,
  notdir,
  notempty,
  notrecoverable,
  notsock,
  notsup,
  notty,
  nxio,
  overflow,
  ownerdead,
  perm,
  pipe,
  proto,
  protonosupport,
  prototype,
  range,
  rofs,
  spipe,
  srch,
  stale,
  timedout,
  txtbsy,
  xdev,
  notcapable,
};

// A value or the errno the guest will see.
template <typename T>
using Result = std::expected<T, Errno>;

// Maps a host (Linux) errno to the WASI errno with the same meaning. Host
// values with no WASI counterpart become `io`.
Errno from_host_errno(int host_errno);

// The errno's conventional upper-case name without the E prefix ("NOENT").
std::string_view errno_name(Errno e);

}  // namespace shoal::wasi
