// Sockets: a job has no network, and no fd the guest can hold is a socket,
// so these answer as Linux would for a descriptor that is not a socket
// (notsock), or for one that is not open (badf).
#include "wasi/calls.h"

namespace shoal::wasi::calls {
namespace {
Errno not_a_socket(Env& env, Fd fd) {
  auto e = env.fds().get(fd);
  if (!e) return e.error();
  return Errno::notsock;
}
}  // namespace

Errno sock_accept(Env& env, Mem&, Fd fd, FdFlags /*flags*/, Ptr /*fd_out*/) {
  return not_a_socket(env, fd);
}
Errno sock_recv(Env& env, Mem&, Fd fd, Ptr /*ri_data*/, Size /*ri_data_len*/, uint16_t /*ri_flags*/,
                Ptr /*ro_datalen_out*/, Ptr /*ro_flags_out*/) {
  return not_a_socket(env, fd);
}
Errno sock_send(Env& env, Mem&, Fd fd, Ptr /*si_data*/, Size /*si_data_len*/, uint16_t /*si_flags*/,
                Ptr /*so_datalen_out*/) {
  return not_a_socket(env, fd);
}
Errno sock_shutdown(Env& env, Mem&, Fd fd, uint32_t /*how*/) {
  return not_a_socket(env, fd);
}

}  // namespace shoal::wasi::calls
