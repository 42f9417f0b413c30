#!/usr/bin/python3
"""TCP: floods of unauthenticated connections, and listeners kept across
restarts (issue 15, item 2; docs/remote.md, "Limits" and "A restarted
broker").

Plain TCP connects to a `--listen` port that never start a CURVE handshake
used to take the broker to its open-file limit; the next local command made
libzmq abort, and the broker started again by the next command listened on
ipc only. Here the floods come from this process: loopback only, bounded in
count and time, closed at the end.
"""

import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import threading
import time

import harness
from harness import check, log
from tcp_broker import TcpBroker, broker_pid

# The most sockets a flood holds: below this process's own open-file limit.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))
FLOOD_MAX = min(6000, _hard - 200)


class Flood:
    """Plain TCP connects to 127.0.0.1:PORT from a thread of its own, in
    batches, sending nothing: at most `count` of them within 30 s, held open
    until stop() closes them all."""

    def __init__(self, port, count, batch=200):
        self.port, self.count, self.batch = port, min(count, FLOOD_MAX), batch
        self.socks = []
        self.done = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        deadline = time.monotonic() + 30
        while (len(self.socks) < self.count and not self.stopping.is_set()
               and time.monotonic() < deadline):
            for _ in range(min(self.batch, self.count - len(self.socks))):
                try:
                    s = socket.socket()
                except OSError:  # this process's own limit: the flood is as big as it gets
                    self.done.set()
                    return
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", self.port))
                self.socks.append(s)
            time.sleep(0.02)
        self.done.set()

    def opened(self):
        return len(self.socks)

    def stop(self):
        self.stopping.set()
        self.thread.join()
        for s in self.socks:
            s.close()
        return len(self.socks)


class FdPeak:
    """The most open files a process held, sampled from a thread."""

    def __init__(self, pid):
        self.pid, self.peak = pid, harness.fd_count(pid)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.is_set() and harness.alive(self.pid):
            try:
                self.peak = max(self.peak, harness.fd_count(self.pid))
            except OSError:
                pass
            time.sleep(0.01)

    def stop(self):
        self.stopping.set()
        self.thread.join()
        return self.peak


def fd_limits(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise harness.TestFailure(f"no open-file limit in /proc/{pid}/limits")


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise harness.TestFailure(f"cannot read {path}: {e}")


def expect_ok(result, what):
    check(result.returncode == 0,
          f"{what} exited {result.returncode}: {result.stderr.strip() or result.stdout.strip()}")
    return result


def run_job(tb, where):
    """A job submitted and waited for through `where` (tb.local or tb.remote)."""
    r = expect_ok(where(["wasm", "run", os.path.join(harness.WASM_DIR, "exit_code.wasm"), "0"]),
                  "wasm run")
    return r


def test_a_flood_of_plain_tcp_connects_leaves_the_broker_and_its_clients_serving():
    # The soft limit the broker inherits is 1024, the usual default: the
    # broker raises it to the hard limit itself.
    with TcpBroker("shoal-sec-flood-", fd_soft_limit=1024) as tb:
        pid = tb.pid
        soft, hard = fd_limits(pid)
        check(soft == hard, f"the broker's open-file limit is {soft}, not raised to {hard}")
        if hard > 1024:
            check(f"raised the open-file limit from 1024 to {hard}" in tb.log(),
                  "the broker does not log raising its open-file limit")
        workers = sorted(harness.worker_pids(pid))
        peak = FdPeak(pid)
        flood = Flood(tb.port, FLOOD_MAX)
        harness.wait_for("the flood to open 3000 connections",
                         lambda: flood.opened() >= min(3000, FLOOD_MAX) or flood.done.is_set())
        # During the flood: local commands, a job, and the authorised client
        # over TCP.
        expect_ok(tb.local(["job", "list"]), "local job list during the flood")
        run_job(tb, tb.local)
        expect_ok(tb.remote(["job", "list"]), "remote job list during the flood")
        check(harness.alive(pid), "the broker died during the flood")
        flood.done.wait(60)
        opened = flood.stop()
        most = peak.stop()
        log(f"  {opened} connections; the broker held at most {most} open files "
            f"(limit {soft})")
        check(tb.pid == pid, f"the broker {pid} is gone (now: {tb.pid})")
        check(sorted(harness.worker_pids(pid)) == workers, "the broker's workers changed")
        check(most <= soft // 4 + 200,
              f"the broker held {most} open files, more than a quarter of its limit {soft}")
        # After: the same, and a job of the remote client.
        expect_ok(tb.local(["job", "list"]), "local job list after the flood")
        run_job(tb, tb.remote)


def test_each_tcp_endpoint_keeps_at_most_its_cap_of_connections():
    cap = 100
    with TcpBroker("shoal-sec-cap-", extra=["--tcp-connections", str(cap)]) as tb:
        pid = tb.pid
        base = harness.fd_count(pid)
        peak = FdPeak(pid)
        floods = [Flood(tb.port, 3000), Flood(tb.port + 1, 3000)]
        harness.wait_for("the floods to open 2000 connections each",
                         lambda: all(f.opened() >= 2000 or f.done.is_set() for f in floods))
        # An authorised client gets in while unauthenticated peers fill the cap.
        expect_ok(tb.remote(["job", "list"]), "remote job list during the flood")
        for f in floods:
            f.done.wait(60)
        opened = [f.stop() for f in floods]
        most = peak.stop()
        log(f"  {opened} connections; {base} open files before, at most {most} during")
        check(harness.alive(pid), "the broker died during the flood")
        # Two caps, and what libzmq accepted before the cap closed it.
        check(most <= base + 2 * cap + 400,
              f"the broker held {most} open files: more than {base} + 2 x {cap} and a margin")
        for name in ("client", "worker"):
            started = f"the {name} endpoint: more than {cap} TCP connections; closing the oldest " \
                "that have not completed a CURVE handshake (a flood of unauthenticated " \
                "connections?)"
            ended = f"the {name} endpoint: closed "
            ended_re = re.compile(rf"the {name} endpoint: closed \d+ TCP connections past the "
                                  rf"cap of {cap} in [0-9.]+ s")
            harness.wait_for(f"the {name} endpoint's burst to be logged as ended",
                             lambda: ended in tb.log(), timeout=60)
            text = tb.log()
            check(text.count(started) == 1,
                  f"the start of the {name} endpoint's burst is logged {text.count(started)} "
                  "times, not once")
            ends = ended_re.findall(text)
            check(len(ends) == 1 and text.count(ended) == 1,
                  f"the end of the {name} endpoint's burst is logged as {ends}")
        expect_ok(tb.remote(["job", "list"]), "remote job list after the flood")


def test_a_flood_of_local_connections_does_not_abort_the_broker():
    # With 1024 open files at most, and no way to raise them: libzmq aborts
    # when accept(2) on the ipc socket fails with EMFILE.
    with TcpBroker("shoal-sec-localflood-", fd_soft_limit=1024, fd_hard_limit=1024) as tb:
        pid = tb.pid
        check(fd_limits(pid) == (1024, 1024), f"the limits are {fd_limits(pid)}")
        path = os.path.join(tb.home, "run", "broker.sock")
        socks = []
        try:
            deadline = time.monotonic() + 30
            while len(socks) < min(2000, FLOOD_MAX) and time.monotonic() < deadline:
                s = socket.socket(socket.AF_UNIX)
                s.setblocking(False)
                socks.append(s)
                try:
                    s.connect(path)
                except (BlockingIOError, InterruptedError):
                    pass  # the backlog is full: the broker is behind, not gone
                except OSError as e:
                    raise harness.TestFailure(f"local connect {len(socks)}: {e}; the broker "
                                              f"{'lives' if harness.alive(pid) else 'is gone'}")
                if len(socks) % 100 == 0:
                    time.sleep(0.02)
            most = 0
            for _ in range(20):  # the broker takes what is in its backlog
                most = max(most, harness.fd_count(pid))
                time.sleep(0.05)
            check(harness.alive(pid), "the broker died during the flood")
            log(f"  {len(socks)} local connections; the broker holds {most} open files")
            check(most < 1024, f"the broker holds {most} open files, its limit")
        finally:
            for s in socks:
                s.close()
        text = harness.wait_for(
            "the end of the burst in the log",
            lambda: (lambda t: t if "the client endpoint: closed " in t else None)(tb.log()))
        check("the client endpoint: more than 512 local connections; closing new ones until "
              "some end" in text, "the start of the burst is not logged")
        check(tb.pid == pid, f"the broker {pid} is gone (now: {tb.pid})")
        expect_ok(tb.local(["job", "list"]), "local job list after the flood")
        run_job(tb, tb.local)


def test_a_broker_started_again_by_a_local_command_keeps_its_tcp_listener():
    with TcpBroker("shoal-sec-restart-") as tb:
        expect_ok(tb.remote(["job", "list"]), "remote job list")
        stored = read_json(os.path.join(tb.home, "serve.json"))
        check(stored.get("listen") == tb.endpoint and stored.get("workers") == 1,
              f"serve.json holds {stored}")
        old = tb.pid
        # The broker dies (as it did when libzmq aborted).
        os.kill(old, signal.SIGKILL)
        tb.proc.wait()
        # The next local command starts one, as `shoal serve --idle-exit 600`.
        expect_ok(tb.local(["job", "list"]), "local job list that starts a broker")
        new = tb.pid
        check(new and new != old, f"no new broker (pid {new})")
        with open(f"/proc/{new}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        check(b"--idle-exit" in argv, f"the new broker is not the auto-started one: {argv}")
        text = tb.log()
        expected = (f"shoal: using the serve configuration stored in {tb.home}/serve.json: "
                    f"--listen {tb.endpoint} --workers 1")
        check(expected in text, f"the new broker's log lacks [{expected}]")
        check("shoal: --idle-exit 600 ignored: this broker listens on TCP" in text,
              "the new broker does not say that it stays")
        # The remote client reaches the new broker on the same endpoint.
        r = expect_ok(tb.remote(["job", "list"]), "remote job list after the restart")
        run_job(tb, tb.remote)
        check(tb.pid == new, "the broker changed again")
        log(f"  broker {old} killed; {new} listens on {tb.endpoint}; {r.stdout.count(chr(10))} "
            "lines listed")


def test_serve_flags_replace_the_stored_configuration_and_forget_config_removes_it():
    with TcpBroker("shoal-sec-config-") as tb:
        stored = os.path.join(tb.home, "serve.json")
        tb.stop()
        # Flags given: they are the configuration now, without --listen.
        tb.start(["--workers", "2"])
        check(read_json(stored).get("listen") == "", "serve.json still holds --listen")
        with socket.socket() as s:
            check(s.connect_ex(("127.0.0.1", tb.port)) != 0,
                  f"something listens on {tb.endpoint} after serve without --listen")
        tb.stop()
        tb.start(["--forget-config"])
        check(not os.path.exists(stored), "serve.json is still there after --forget-config")
        harness.wait_for("the broker after --forget-config to run one worker per core",
                         lambda: len(harness.worker_pids(tb.pid)) == os.cpu_count())


def test_a_malformed_stored_configuration_is_named_when_a_broker_starts():
    home = harness.temp_home("shoal-sec-badconf-")
    env = dict(os.environ, SHOAL_HOME=home)
    env.pop("SHOAL_CONNECT", None)
    with open(os.path.join(home, "serve.json"), "w") as f:
        f.write('{"listen": "tcp://127.0.0.1:1", "workers": "many"}\n')
    try:
        r = subprocess.run([harness.SHOAL, "job", "list"], env=env, capture_output=True,
                           text=True, timeout=60)
        expected = (f"shoal: the broker did not start: {home}/serve.json: workers must be an "
                    "integer from -1 to 1024 (remove it, or run shoal serve with the flags)")
        check(r.returncode != 0 and expected in r.stderr,
              f"job list exited {r.returncode} saying [{r.stderr.strip()}], not [{expected}]")
        check(broker_pid(home) is None, "a broker runs with a malformed configuration")
    finally:
        subprocess.run([harness.SHOAL, "shutdown"], env=env, capture_output=True, timeout=30)
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    harness.run_cases(globals())
