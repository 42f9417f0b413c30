// Sockets: a job has no network, and no fd the guest can hold is a socket,
// so these answer as Linux would for a descriptor that is not a socket
// (notsock), or for one that is not open (badf).
#include "wasi/calls.h"

namespace shoal::wasi::calls {
namespace {
Errno not_a_socket(Environment& env, uint64_t fd) {
  auto e = env.fds().get(u32(fd));
  if (!e) return e.error();
  return Errno::notsock;
}
}  // namespace

SHOAL_WASI_CALL(sock_accept) {
  (void)mem;
  return not_a_socket(env, a[0]);
}
SHOAL_WASI_CALL(sock_recv) {
  (void)mem;
  return not_a_socket(env, a[0]);
}
SHOAL_WASI_CALL(sock_send) {
  (void)mem;
  return not_a_socket(env, a[0]);
}
SHOAL_WASI_CALL(sock_shutdown) {
  (void)mem;
  return not_a_socket(env, a[0]);
}

}  // namespace shoal::wasi::calls
