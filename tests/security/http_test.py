#!/usr/bin/python3
"""HTTP clients that misbehave cost the broker's ZeroMQ clients nothing
(issue 19, "Security"; docs/http-api.md, "Limits"): while they do, a
`list` and a `submit` over the broker's socket are answered within a
deadline (a bound on a hang, not a speed), and the API answers a
well-behaved request on a new connection.

- slowloris: connections sending their headers one byte a second are
  closed by the API when their 30 s for a request are up.
- a huge body: a request announcing 10 GB gets 413 before a byte of the body
  is sent.
- 1,000 connections held open: all held under the default cap; with the
  broker's open-file limit at 1,024, the API holds a quarter of it and
  answers the others 503 at once, saying so in the broker's log, where
  without a cap the API took every descriptor and libzmq aborted the broker
  when a local client connected next.

Real broker and API (`shoal serve --api-port`), loopback only; every wait is
bounded, every socket closed at the end.
"""

import os
import resource
import select
import socket
import subprocess
import threading
import time

import harness
from harness import SHOAL, Session, check, log, wait_for

# This process holds a thousand sockets and more.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))
CONNECTIONS = 1000
check(_hard >= CONNECTIONS + 200, f"the open-file limit {_hard} is below {CONNECTIONS + 200}")
# How long a ZeroMQ request may take while HTTP clients misbehave: far more
# than it ever needs, less than forever.
ANSWER_WITHIN_S = 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiSession(Session):
    """A broker with its API on a free port; `nofile` caps its open files."""

    def __init__(self, nofile=None, extra=()):
        self.port = free_port()
        self.nofile = nofile
        super().__init__("shoal-http-", workers=1,
                         extra=["--api-port", str(self.port), *extra])
        wait_for("the API to answer", lambda: self.http_get("/api/v1/agent/alive")[0] == 200)

    def http_get(self, path, timeout=ANSWER_WITHIN_S):
        """(status, body) of GET `path` on a new connection; (0, why) when none came."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
        except OSError as e:
            return 0, str(e)
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split()[1]) if head.startswith(b"HTTP/1.1 ") else 0
        return status, body.decode(errors="replace")

    def zmq_still_serves(self, what):
        """A list and a submit over the broker's socket, each answered in time."""
        kind, body, _ = self.client.call("list", {"limit": 5}, timeout=ANSWER_WITHIN_S)
        check(kind == "ok", f"{what}: list answered {kind} {body}")
        kind, body, _ = self.client.call(
            "submit", {"module": "args_env.wasm", "args": ["x"]}, harness.wasm("args_env"),
            timeout=ANSWER_WITHIN_S)
        check(kind == "ok", f"{what}: submit answered {kind} {body}")
        self.wait_state(body["id"], ["Completed"], timeout=120)


def limited_start(broker, nofile):
    """Starts `broker` (harness.Broker) with RLIMIT_NOFILE at `nofile`."""
    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    broker.proc = subprocess.Popen(
        [SHOAL, "serve", "--quiet", "--workers", str(broker.workers), *broker.extra],
        env=broker.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, preexec_fn=limit)
    return broker.proc.pid


def hold(port, count):
    """`count` connections to the API that send nothing."""
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
    return socks


def answered(socks, timeout):
    """The sockets of `socks` on which the API answered (or closed) within `timeout` s, with
    what came: {socket: bytes}."""
    got = {}
    deadline = time.monotonic() + timeout
    pending = list(socks)
    while pending and time.monotonic() < deadline:
        ready = []
        for i in range(0, len(pending), 500):
            r, _, _ = select.select(pending[i:i + 500], [], [], 0.05)
            ready += r
        for s in ready:
            try:
                got[s] = s.recv(65536)
            except OSError as e:
                got[s] = str(e).encode()
            pending.remove(s)
        if not ready:
            break
    return got


def close_all(socks):
    for s in socks:
        s.close()


def test_slowloris_connections_are_closed_and_cost_zeromq_clients_nothing():
    with ApiSession() as s:
        socks = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(20)]
        request = b"GET /api/v1/agent/alive HTTP/1.1\r\nHost: x\r\n"
        closed = set()
        stop = threading.Event()

        def trickle():
            for i in range(len(request)):
                for c in socks:
                    if c in closed:
                        continue
                    try:
                        c.send(request[i:i + 1])
                    except OSError:
                        closed.add(c)
                if stop.wait(1.0):
                    return
        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        s.zmq_still_serves("during a slowloris")
        status, body = s.http_get("/api/v1/agent/alive")
        check(status == 200, f"a request beside the slowloris: {status} {body}")
        # The API closes each within its 30 s for a request (docs/http-api.md).
        def all_closed():
            for c in socks:
                if c in closed:
                    continue
                r, _, _ = select.select([c], [], [], 0)
                if r:
                    try:
                        data = c.recv(4096)
                    except OSError:
                        data = b""
                    check(data == b"", f"a trickling request got an answer: {data[:200]!r}")
                    closed.add(c)
            return len(closed) == len(socks)
        wait_for("the API to close every trickling connection", all_closed, timeout=90)
        stop.set()
        t.join()
        close_all(socks)


def test_a_huge_body_is_413_before_it_is_sent():
    with ApiSession() as s:
        with socket.create_connection(("127.0.0.1", s.port), timeout=ANSWER_WITHIN_S) as c:
            c.sendall(b"PUT /api/v1/orchestrator/jobs HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n"
                      b"{\"Job\":")
            data = b""
            while chunk := c.recv(65536):
                data += chunk
        check(data.startswith(b"HTTP/1.1 413 "), f"10 GB announced: {data[:300]!r}")
        check(b'"Code":"ResourceExhausted"' in data and b"10485760" in data,
              f"413 body: {data[:400]!r}")
        # Chunked, with no length announced: cut at the limit.
        with socket.create_connection(("127.0.0.1", s.port), timeout=ANSWER_WITHIN_S) as c:
            c.sendall(b"PUT /api/v1/orchestrator/jobs HTTP/1.1\r\nHost: x\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"x" * (1 << 20)
            sent = 0
            try:
                while sent < 64 << 20:
                    c.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                    sent += len(chunk)
            except OSError:
                pass
            try:
                data = c.recv(65536)
            except OSError as e:
                data = str(e).encode()
        check(sent < 64 << 20, f"the API read {sent} bytes of a chunked body past its 10 MB")
        s.zmq_still_serves("after huge bodies")


def test_a_thousand_connections_held_open_are_all_held():
    with ApiSession() as s:
        socks = hold(s.port, CONNECTIONS)
        try:
            # None is answered (each waits for its request).
            s.zmq_still_serves(f"with {CONNECTIONS} HTTP connections open")
            status, body = s.http_get("/api/v1/orchestrator/jobs?limit=1")
            check(status == 200, f"one more connection: {status} {body[:200]}")
            got = answered(socks, 0.5)
            check(not got, f"{len(got)} held connections were answered or closed: "
                  f"{list(got.values())[:2]}")
        finally:
            close_all(socks)


def test_past_the_cap_connections_get_503_and_the_broker_keeps_serving():
    nofile = 1024
    cap = nofile // 4
    orig = harness.Broker.start
    harness.Broker.start = lambda broker: limited_start(broker, nofile)
    try:
        s = ApiSession()
    finally:
        harness.Broker.start = orig
    with s:
        socks = hold(s.port, CONNECTIONS)
        try:
            got = wait_for(f"503 on the connections past the cap of {cap}", lambda: (
                lambda g: g if len(g) >= CONNECTIONS - cap - 50 else None)(
                    answered(socks, 1.0)), timeout=60)
            refused = [d for d in got.values() if d.startswith(b"HTTP/1.1 503 ")]
            check(len(refused) >= CONNECTIONS - cap - 50 and all(
                b'"Code":"ServiceUnavailable"' in d for d in refused),
                f"{len(refused)} of {CONNECTIONS} refused with 503 (cap {cap}): "
                f"{[d[:200] for d in got.values()][:3]}")
            log(f"{len(refused)} of {CONNECTIONS} connections refused past the cap of {cap}")
            s.zmq_still_serves("with the API at its cap")
            with open(os.path.join(s.home, "broker.log")) as f:
                said = f.read()
            check(f"holds {cap} connections, its cap" in said, f"not logged: {said[-2000:]}")
        finally:
            close_all(socks)
        # The held connections' slots come back as the API sees them close.
        wait_for("the API to answer again after the flood",
                 lambda: s.http_get("/api/v1/agent/alive")[0] == 200, timeout=60)
        with open(os.path.join(s.home, "broker.log")) as f:
            said = f.read()
        check("takes connections again" in said, "the end of the refusals is not logged")


if __name__ == "__main__":
    harness.run_cases(globals())
