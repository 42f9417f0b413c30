#!/usr/bin/python3
"""Nothing a guest names or does pins a worker (issue 15, item 4), and a big
module's compilation does not cost its worker (item 7, heartbeats).

- A FIFO (or socket, or device) in an input directory: the guest's open
  fails at once with ENXIO instead of waiting for a writer that never comes.
- A guest blocked in a host call (a sleep of years: V8's TerminateExecution
  cannot reach the worker's main thread there) ends at its --timeout, and a
  `stop` ends it: the broker kills the worker after a grace, the job ends
  Failed (the worker's own timeout wording) or Stopped, never re-queued, and
  the pool is back to its size. A remote worker is forgotten and told to
  leave, and leaves though its main thread sleeps on.
- A module whose compilation takes longer than the broker's heartbeat
  allowance runs in one execution.

Real broker, real workers, real FIFOs; every wait is bounded.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile

import harness
from harness import Session, check

# The broker's backstop after a run's timeout, and after a stop request
# (broker/job_table.h: kTimeoutGrace, kStopGrace; kRemoteGrace).
GRACE_S = 5
REMOTE_GRACE_S = 60
# How long a test waits for a job that must end, at most: far more than a
# timeout plus the grace, less than forever.
END_WITHIN_S = 90
# A sleep the guest never wakes from in the test's life: relay prints
# "start", then sleeps this many seconds (about 63 years).
FOREVER_S = 2_000_000_000


def stdout_of(s, job):
    s.client.send("logs", {"id": job})
    got = b""
    while True:
        kind, body, frames = s.client.recv()
        if kind != "log":
            check(kind == "end" or kind == "ok", f"logs answered {kind} {body}")
            return got
        if body["stream"] == "stdout":
            got += frames[0]


def fifo_dir():
    d = tempfile.mkdtemp(prefix="shoal-fifo-", dir=os.environ.get("TMPDIR", "/tmp"))
    with open(os.path.join(d, "a.txt"), "w") as f:
        f.write("hello\n")
    os.mkfifo(os.path.join(d, "p"))
    return d


def check_event(job, event):
    """The job's history holds `event`, word for word."""
    check(any(h["event"] == event for h in job["history"]),
          f"no event {event!r} in {[h['event'] for h in job['history']]}")

def test_a_fifo_in_an_input_directory_is_enxio_and_the_worker_stays_usable():
    d = fifo_dir()
    try:
        with Session("shoal-blocking-", workers=1) as s:
            pid = harness.worker_pids(s.broker.pid)
            inputs = [{"source": d, "target": "/in"}]
            job = s.submit("cat_files", ["/in/p", "/in/a.txt"], inputs=inputs, timeout_s=30)
            j = s.wait_state(job, ["Completed", "Failed", "Stopped"], timeout=END_WITHIN_S)
            check(j["state"] == "Completed" and j["exit_code"] == 1,
                  f"{j['state']} exit {j.get('exit_code')}: {j['message']}")
            check(len(j["executions"]) == 1, f"{len(j['executions'])} executions")
            out = stdout_of(s, job)
            check(out == b"== /in/p ==\ncannot open: No such device or address\n"
                  b"== /in/a.txt ==\nhello\n", f"stdout {out!r}")
            # The same worker process serves the next job.
            after = s.submit("cat_files", ["/in/a.txt"], inputs=inputs)
            j = s.wait_state(after, ["Completed", "Failed", "Stopped"], timeout=END_WITHIN_S)
            check(j["state"] == "Completed" and j["exit_code"] == 0, f"{j['state']} {j['message']}")
            check(harness.worker_pids(s.broker.pid) == pid, "the worker was replaced")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_a_fifo_mounted_as_an_input_file_fails_the_job_naming_the_mount():
    # The direct case, refused before the guest starts: the same rule.
    d = fifo_dir()
    try:
        with Session("shoal-blocking-", workers=1) as s:
            fifo = os.path.join(d, "p")
            job = s.submit("cat_files", ["/in/p"], inputs=[{"source": fifo, "target": "/in/p"}],
                           timeout_s=30)
            j = s.wait_state(job, ["Completed", "Failed", "Stopped"], timeout=END_WITHIN_S)
            check(j["state"] == "Failed", f"{j['state']} {j['message']}")
            # Named by its guest path: a job's message shows no host path.
            check(j["message"] == "the mount at /in/p: not a directory or a regular file",
                  f"message {j['message']!r}")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def blocked_job(s, **spec):
    """A job whose guest is asleep for good inside poll_oneoff (it said
    "start" first), and its worker's pid."""
    job = s.submit("relay", [FOREVER_S], **spec)
    pid = s.wait_running(job, 1)
    harness.wait_for(f"job {job} to say start", lambda: stdout_of(s, job) == b"start\n")
    return job, pid


def check_replaced(s, pid, pool):
    harness.wait_for(f"worker {pid} to be gone", lambda: not harness.alive(pid), timeout=30)
    harness.wait_for(f"{pool} live workers",
                     lambda: len(harness.worker_pids(s.broker.pid)) == pool, timeout=30)
    ok = s.submit("chaos_job", [3])
    j = s.wait_state(ok, ["Completed", "Failed", "Stopped"], timeout=END_WITHIN_S)
    check(j["state"] == "Completed", f"the next job: {j['state']} {j['message']}")


def test_a_guest_blocked_in_a_host_call_fails_at_its_timeout():
    with Session("shoal-blocking-", workers=1) as s:
        job, pid = blocked_job(s, timeout_s=1)
        j = s.wait_state(job, ["Completed", "Failed", "Stopped"], timeout=END_WITHIN_S)
        check(j["state"] == "Failed", f"{j['state']} {j['message']}")
        check(j["message"] == "the program timed out after 1 s (--timeout)",
              f"message {j['message']!r}")
        check(len(j["executions"]) == 1, f"{len(j['executions'])} executions: not re-queued")
        e = j["executions"][0]
        check(e["state"] == "Failed" and e["message"] == j["message"], f"execution {e}")
        why = f"the worker {e['worker']} had not ended the run {GRACE_S} s past its timeout; " \
              "the broker killed the worker"
        check_event(j, why)
        check_replaced(s, pid, 1)


def test_stopping_a_guest_blocked_in_a_host_call_ends_it_stopped():
    with Session("shoal-blocking-", workers=1) as s:
        job, pid = blocked_job(s)
        kind, body, _ = s.call("stop", {"id": job})
        check(kind == "ok", f"stop answered {kind} {body}")
        j = s.wait_state(job, ["Completed", "Failed", "Stopped"], timeout=END_WITHIN_S)
        check(j["state"] == "Stopped" and j["message"] == "stopped on request",
              f"{j['state']} {j['message']!r}")
        check(len(j["executions"]) == 1, f"{len(j['executions'])} executions: not re-queued")
        e = j["executions"][0]
        why = f"the worker {e['worker']} had not stopped the run {GRACE_S} s after the stop " \
              "request; the broker killed the worker"
        check_event(j, why)
        check_replaced(s, pid, 1)


def free_port_pair():
    """A TCP port on 127.0.0.1 that is free, with the next one free too
    (the broker takes PORT for clients and PORT + 1 for worker pools)."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise harness.TestFailure("no two consecutive free ports on 127.0.0.1")


def test_a_remote_worker_blocked_in_a_host_call_is_forgotten_at_its_timeout():
    # No process of the broker's to kill: the broker ends the job, forgets
    # the worker and tells it to leave; the worker exits though its main
    # thread is asleep, its pool starts it again, and it serves the next job.
    port = free_port_pair()
    pool_home = harness.temp_home("shoal-blocking-pool-")
    pool = None
    try:
        with Session("shoal-blocking-", workers=0,
                     extra=["--listen", f"tcp://127.0.0.1:{port}"]) as s:
            keys = lambda home, *args: subprocess.run(
                [harness.SHOAL, "keys", *args], env=dict(os.environ, SHOAL_HOME=home),
                capture_output=True, text=True, timeout=60)
            server_key = keys(s.home).stdout.strip()
            worker_key = keys(pool_home, "generate").stdout.strip()
            r = keys(s.home, "add-worker", worker_key, "--name", "pool")
            check(r.returncode == 0 and len(server_key) == 40, f"keys: {r.stderr} {server_key!r}")
            pool = subprocess.Popen(
                [harness.SHOAL, "worker", "--connect", f"tcp://127.0.0.1:{port + 1}",
                 "--server-key", server_key, "--slots", "1"],
                env=dict(os.environ, SHOAL_HOME=pool_home), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            log = os.path.join(s.home, "broker.log")
            joins = lambda: open(log).read().count(" joined from ")
            harness.wait_for("the pool to join", lambda: joins() >= 1)
            job, _ = blocked_job(s, timeout_s=1)
            j = s.wait_state(job, ["Completed", "Failed", "Stopped"], timeout=END_WITHIN_S + 60)
            check(j["state"] == "Failed", f"{j['state']} {j['message']}")
            check(j["message"] == "the program timed out after 1 s (--timeout)",
                  f"message {j['message']!r}")
            check(len(j["executions"]) == 1, f"{len(j['executions'])} executions: not re-queued")
            e = j["executions"][0]
            why = f"the worker {e['worker']} had not ended the run {REMOTE_GRACE_S} s past its " \
                  "timeout; the broker forgot the run and told the worker to leave"
            check_event(j, why)
            harness.wait_for("the pool's worker to join again", lambda: joins() >= 2)
            ok = s.submit("chaos_job", [3])
            j = s.wait_state(ok, ["Completed", "Failed", "Stopped"], timeout=END_WITHIN_S)
            check(j["state"] == "Completed", f"the next job: {j['state']} {j['message']}")
    finally:
        if pool:
            pool.kill()
            pool.wait()
        shutil.rmtree(pool_home, ignore_errors=True)


# ------------------------------------------------------------ big modules


def big_module(path, functions, statements):
    """A module of `functions` functions of i32 arithmetic, each `statements`
    steps long, and a _start that calls them all and returns: big to
    compile, quick to run. Written byte by byte (gen_hostile_modules.py's
    encoding)."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "wasm"))
    from gen_hostile_modules import uleb, vec, section, name
    i32_const = lambda n: b"\x41" + sleb(n)
    # (i32) -> i32 for the workers, () -> () for _start.
    types = section(1, vec([b"\x60\x01\x7f\x01\x7f", b"\x60\x00\x00"]))
    funcs = section(3, uleb(functions + 1) + b"\x00" * functions + b"\x01")
    exports = section(7, vec([name("_start") + b"\x00" + uleb(functions)]))
    step = []
    for j in range(statements):
        # x = (x * k + c) ^ (x >> s)
        k, c, sh = (j * 131) % 97 + 3, (j * 7919) % 100003, j % 13 + 1
        step.append(b"\x20\x00" + i32_const(k) + b"\x6c" + i32_const(c) + b"\x6a" +
                    b"\x20\x00" + i32_const(sh) + b"\x76" + b"\x73" + b"\x21\x00")
    body = b"\x00" + b"".join(step) + b"\x20\x00\x0b"
    body = uleb(len(body)) + body
    start = b"\x00" + b"".join(i32_const(i) + b"\x10" + uleb(i) + b"\x1a"
                               for i in range(functions)) + b"\x0b"
    code = section(10, uleb(functions + 1) + body * functions + uleb(len(start)) + start)
    with open(path, "wb") as f:
        f.write(b"\0asm" + (1).to_bytes(4, "little") + types + funcs + exports + code)


def sleb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if (n == 0 and not b & 0x40) or (n == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def test_a_module_slow_to_compile_keeps_its_worker():
    # TurboFan alone (--no-liftoff) on one compilation thread makes the
    # compilation of this module take many seconds, longer than the 3 s a
    # silent worker is given. The worker's watch thread must answer
    # heartbeats meanwhile: one execution, no "stopped answering".
    d = tempfile.mkdtemp(prefix="shoal-big-", dir=os.environ.get("TMPDIR", "/tmp"))
    path = os.path.join(d, "big.wasm")
    big_module(path, functions=COMPILE_FUNCTIONS, statements=COMPILE_STATEMENTS)
    flags = "--no-liftoff --single-threaded"
    saved = os.environ.get("SHOAL_V8_FLAGS")
    os.environ["SHOAL_V8_FLAGS"] = flags  # the broker's workers inherit it
    try:
        with Session("shoal-blocking-", workers=1) as s:
            with open(path, "rb") as f:
                module = f.read()
            kind, body, _ = s.call("submit", {"module": "big.wasm", "timeout_s": 600}, module)
            check(kind == "ok", f"submit answered {kind} {body}")
            job = body["id"]
            j = s.wait_state(job, ["Completed", "Failed", "Stopped"], timeout=600)
            check(j["state"] == "Completed" and j["exit_code"] == 0,
                  f"{j['state']} {j['message']!r}")
            check(len(j["executions"]) == 1,
                  f"{len(j['executions'])} executions: {[e['message'] for e in j['executions']]}")
            check(not any("stopped answering" in h["event"] for h in j["history"]),
                  f"history {[h['event'] for h in j['history']]}")
            harness.log(f"    the big module: {len(module) >> 20} MiB, ran from "
                        f"{j['executions'][0]['started']} to {j['executions'][0]['ended']}")
    finally:
        if saved is None:
            os.environ.pop("SHOAL_V8_FLAGS", None)
        else:
            os.environ["SHOAL_V8_FLAGS"] = saved
        shutil.rmtree(d, ignore_errors=True)


COMPILE_FUNCTIONS = 4000
COMPILE_STATEMENTS = 400


if __name__ == "__main__":
    harness.run_cases(globals())
