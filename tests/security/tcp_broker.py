"""A broker that also listens on TCP (127.0.0.1 only), with CURVE keys set
up as docs/remote.md says: the broker's pair (`shoal keys`), a client host's
pair in a state directory of its own (`shoal keys generate`), authorised
with `shoal keys add-client`. Shared by network_test.py and
hostpaths_test.py.
"""

import os
import resource
import shutil
import signal
import socket
import subprocess
import time

import harness
from harness import check

SHOAL = harness.SHOAL


def free_port_pair():
    """A port P on 127.0.0.1 such that P and P + 1 are both free now."""
    for _ in range(50):
        a = socket.socket()
        a.bind(("127.0.0.1", 0))
        port = a.getsockname()[1]
        b = socket.socket()
        try:
            b.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
        finally:
            a.close()
            b.close()
    raise harness.TestFailure("no two free adjacent ports on 127.0.0.1")


def run(argv, env, timeout=120):
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def broker_pid(home):
    """The pid in run/broker.pid of `home` if that process lives, else None."""
    try:
        with open(os.path.join(home, "run", "broker.pid")) as f:
            pid = int(f.read())
    except (OSError, ValueError):
        return None
    return pid if harness.alive(pid) and harness.comm(pid) == "shoal" else None


class TcpBroker:
    """`shoal serve --listen tcp://127.0.0.1:PORT` on a private state
    directory, and a client host (its own state directory) whose key the
    broker authorises."""

    def __init__(self, prefix, extra=(), workers=1, fd_soft_limit=None, fd_hard_limit=None):
        self.home = harness.temp_home(prefix)
        self.client_home = harness.temp_home(prefix + "client-")
        self.port = free_port_pair()
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.env = dict(os.environ, SHOAL_HOME=self.home)
        self.env.pop("SHOAL_CONNECT", None)
        keys = run([SHOAL, "keys"], self.env)
        check(keys.returncode == 0, f"shoal keys: {keys.stderr}")
        self.server_key = keys.stdout.strip()
        client_key = run([SHOAL, "keys", "generate"], dict(self.env, SHOAL_HOME=self.client_home))
        check(client_key.returncode == 0, f"shoal keys generate: {client_key.stderr}")
        added = run([SHOAL, "keys", "add-client", client_key.stdout.strip(), "--name", "tester"],
                    self.env)
        check(added.returncode == 0, f"shoal keys add-client: {added.stderr}")
        self.remote_env = dict(os.environ, SHOAL_HOME=self.client_home,
                               SHOAL_CONNECT=self.endpoint, SHOAL_SERVER_KEY=self.server_key)
        self.proc = None
        self.start(["--listen", self.endpoint, "--workers", str(workers), *extra], fd_soft_limit,
                   fd_hard_limit)

    def start(self, flags, fd_soft_limit=None, fd_hard_limit=None):
        """`shoal serve FLAGS` in the foreground (a child of this test), with
        these limits on open files if given."""
        def limit():
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            hard = min(hard, fd_hard_limit or hard)
            soft = min(fd_soft_limit or soft, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        self.proc = subprocess.Popen([SHOAL, "serve", "--quiet", *flags], env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, preexec_fn=limit)
        # run/broker.pid is written once the broker's endpoints are bound.
        harness.wait_for("the broker to bind its endpoints",
                         lambda: self.proc.poll() is not None or
                         broker_pid(self.home) == self.proc.pid)
        if self.proc.poll() is not None:
            raise harness.TestFailure(
                f"shoal serve {' '.join(flags)} exited: {self.proc.stderr.read().decode()}")

    @property
    def pid(self):
        return broker_pid(self.home)

    def local(self, args, timeout=120):
        """`shoal ARGS` as the broker's own user, over the ipc socket."""
        return run([SHOAL, *args], self.env, timeout)

    def remote(self, args, timeout=120):
        """`shoal ARGS` as the authorised client host, over TCP with CURVE."""
        return run([SHOAL, *args], self.remote_env, timeout)

    def log(self):
        with open(os.path.join(self.home, "broker.log")) as f:
            return f.read()

    def stop(self):
        """Shuts down whichever broker serves the state directory now."""
        self.local(["shutdown"], timeout=30)
        pid = broker_pid(self.home)
        deadline = time.monotonic() + 15
        while pid and harness.alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid and harness.alive(pid):
            os.kill(pid, signal.SIGKILL)
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()
            self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.stop()
        if exc_type is None:  # kept for a look when the test failed
            shutil.rmtree(self.home, ignore_errors=True)
            shutil.rmtree(self.client_home, ignore_errors=True)
