"""Shared pieces of the fault tests: a broker process we can kill, a client
of the shoal/1 protocol that notices when its broker goes away, and /proc
readings (children, RSS, open fds).

Everything is real: `shoal serve` processes, `shoal-worker` children, ZeroMQ
over the state directory's ipc socket, signals sent with os.kill.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import zmq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import cases  # noqa: E402
import python_client  # noqa: E402  (examples/python_client.py: the one Python client)
from python_client import VERSION, Disconnected, NoReply  # noqa: E402,F401

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
WASM_DIR = os.environ.get("SHOAL_TEST_WASM_DIR", "build/tests/wasm")


class TestFailure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise TestFailure(message)


def log(*args):
    print(*args, flush=True)


def wasm(name):
    with open(os.path.join(WASM_DIR, name + ".wasm"), "rb") as f:
        return f.read()


# ---------------------------------------------------------------- /proc


def children_of(pid):
    """Pids whose parent is `pid` (live or zombie)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def alive(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def rss_kib(pid, field="VmRSS"):
    """Resident memory in KiB; field="RssAnon" for the heap alone (VmRSS
    also counts the LMDB map's file pages, which the kernel can reclaim)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def anon_kib(pid):
    return rss_kib(pid, "RssAnon")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def holds_posix_lock(pid):
    """Whether `pid` holds a POSIX record lock (a worker's fence lock)."""
    with open("/proc/locks") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and fields[1] == "POSIX" and fields[4] == str(pid):
                return True
    return False


def worker_pids(broker_pid):
    return [p for p in children_of(broker_pid) if comm(p) == "shoal-worker" and alive(p)]


# ---------------------------------------------------------------- broker


class Broker:
    """`shoal serve` on a state directory, started and killed by the test."""

    def __init__(self, home, workers=2, extra=()):
        self.home = home
        self.workers = workers
        self.extra = list(extra)
        self.proc = None
        self.env = dict(os.environ, SHOAL_HOME=home)

    @property
    def endpoint(self):
        return "ipc://" + self.home + "/run/broker.sock"

    def start(self):
        self.proc = subprocess.Popen(
            [SHOAL, "serve", "--quiet", "--workers", str(self.workers), *self.extra],
            env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        return self.proc.pid

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def wait_ready(self, timeout=60):
        """Waits until this broker process answers ping; False if it died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                c = Client(self.endpoint, connect_timeout=0.5)
            except Disconnected:
                time.sleep(0.05)
                continue
            try:
                kind, body, _ = c.call("ping", timeout=5)
                if kind == "ok" and body.get("pid") == self.proc.pid:
                    return True
            except (Disconnected, TimeoutError):
                pass
            finally:
                c.close()
            time.sleep(0.05)
        raise TestFailure(f"broker {self.proc.pid} did not answer within {timeout} s")

    def wait_workers(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(worker_pids(self.pid)) == count:
                return worker_pids(self.pid)
            time.sleep(0.05)
        raise TestFailure(f"broker {self.pid} has {len(worker_pids(self.pid))} workers, "
                          f"not {count}, after {timeout} s")

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        self.proc.wait()

    def shutdown(self):
        if self.proc and self.proc.poll() is None:
            try:
                c = Client(self.endpoint)
                c.call("shutdown", timeout=10)
                c.close()
            except Exception:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------- client


class Client(python_client.Client):
    """examples/python_client.py's Client, bound to one broker process for
    its whole life (reconnect=False: after Disconnected, every request
    without a reply was either committed by that broker or lost with it).
    Tests look at every reply's kind themselves, so call() returns the first
    reply (kind, body, frames) whatever it is, and recv() is receive()."""

    def __init__(self, endpoint, connect_timeout=5.0):
        super().__init__(endpoint=endpoint, reconnect=False, connect_timeout_s=connect_timeout,
                         timeout_s=60)

    def recv(self, timeout=60):
        return self.receive(timeout)

    def call(self, command, body=None, *frames, timeout=60):
        return self.request(command, body, *frames, timeout_s=timeout)


def connect(endpoint, timeout=60):
    """A Client to whatever broker answers at `endpoint`, retrying while none
    does."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            c = Client(endpoint, connect_timeout=1.0)
            c.call("ping", timeout=30)
            return c
        except (Disconnected, TimeoutError):
            if time.monotonic() > deadline:
                raise TestFailure(f"no broker answered at {endpoint} within {timeout} s")
            time.sleep(0.05)


def call_retrying(endpoint, command, body=None, *frames, timeout=120):
    """An idempotent request (get, list, logs, output), repeated on a fresh
    connection until some broker answers it."""
    deadline = time.monotonic() + timeout
    while True:
        c = connect(endpoint, max(1, deadline - time.monotonic()))
        try:
            return c.call(command, body, *frames, timeout=30)
        except (Disconnected, TimeoutError):
            if time.monotonic() > deadline:
                raise TestFailure(f"'{command}' got no answer within {timeout} s")
        finally:
            c.close()


def temp_home(prefix):
    return tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("TMPDIR", "/tmp"))


def run_main(main):
    """Runs a test's main(); prints the failure and exits 1 on TestFailure."""
    try:
        main()
    except TestFailure as e:
        log("FAIL:", e)
        sys.exit(1)
    log("PASS")


def run_cases(namespace, argv=None):
    """Runs the test_* functions of `namespace` through the one runner
    (tests/support/cases.py) and exits with its status."""
    sys.exit(cases.run(namespace, argv=argv))


def wait_for(what, predicate, timeout=60, interval=0.05):
    """Polls `predicate` until it returns something true; fails naming `what`
    after `timeout` seconds (a bound on a hang, not a speed requirement)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TestFailure(f"timed out waiting for {what}")
        time.sleep(interval)


def pid_of_worker(name):
    """The pid of the shoal-worker process called `name`."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"--name" in argv and argv[argv.index(b"--name") + 1] == name.encode():
            if alive(int(entry)):
                return int(entry)
    return None


class Session:
    """A broker on a private state directory and one client connected to it,
    for tests that do not kill the broker."""

    def __init__(self, prefix, workers=2, extra=()):
        self.home = temp_home(prefix)
        self.broker = Broker(self.home, workers=workers, extra=extra)
        self.broker.start()
        check(self.broker.wait_ready(), "the broker did not start")
        self.client = connect(self.broker.endpoint)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.client.close()
        self.broker.shutdown()
        if exc_type is None:  # kept for a look when the test failed
            shutil.rmtree(self.home, ignore_errors=True)

    def call(self, command, body=None, *frames, timeout=60):
        return self.client.call(command, body, *frames, timeout=timeout)

    def submit(self, module_name, args=(), **spec):
        kind, body, _ = self.call("submit", {"module": module_name + ".wasm",
                                             "args": [str(a) for a in args], **spec},
                                  wasm(module_name))
        check(kind == "ok", f"submit answered {kind} {body}")
        return body["id"]

    def job(self, job_id):
        kind, body, _ = self.call("get", {"id": job_id})
        check(kind == "ok", f"get {job_id} answered {kind} {body}")
        return body

    def wait_state(self, job_id, states, timeout=120):
        return wait_for(f"job {job_id} to be {states}",
                        lambda: (lambda j: j if j["state"] in states else None)(self.job(job_id)),
                        timeout=timeout)

    def wait_running(self, job_id, attempt, timeout=60):
        """Waits until execution `attempt` of the job runs; returns its worker's pid."""
        def running():
            j = self.job(job_id)
            if j["state"] == "Running" and len(j["executions"]) == attempt:
                return pid_of_worker(j["executions"][-1]["worker"])
            return None
        return wait_for(f"job {job_id} to run attempt {attempt}", running, timeout=timeout)
