#!/usr/bin/python3
"""A remote pool's runs and the broker's scratch directory (docs/scale.md,
broker/scratch.cpp): a remote run that writes no file back costs the broker
no directory, and one that does gets its output directories made when its
files come back, every output's files collected as before. Over TCP on
127.0.0.1 (no root): a `--workers 0` broker and one `shoal worker` pool.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "security"))

import harness  # noqa: E402
from harness import check, log  # noqa: E402
from tcp_broker import TcpBroker, run  # noqa: E402


class Pool:
    """A broker with no local workers and one authorised remote pool."""

    def __init__(self):
        self.tb = TcpBroker("rscratch-", workers=0)
        self.pool_home = harness.temp_home("rscratch-pool-")
        pool_env = dict(self.tb.env, SHOAL_HOME=self.pool_home)
        key = run([harness.SHOAL, "keys", "generate"], pool_env)
        check(key.returncode == 0, f"shoal keys generate: {key.stderr}")
        added = self.tb.local(["keys", "add-worker", "--name", "pool", "--", key.stdout.strip()])
        check(added.returncode == 0, f"shoal keys add-worker: {added.stderr}")
        self.proc = subprocess.Popen(
            [harness.SHOAL, "worker", "--connect", f"tcp://127.0.0.1:{self.tb.port + 1}",
             f"--server-key={self.tb.server_key}", "--slots", "1"],
            env=pool_env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        harness.wait_for("the remote pool to join", lambda: "remote worker" in self.tb.log())
        self.scratch = os.path.join(self.tb.home, "scratch")

    def describe(self, job_id):
        r = self.tb.local(["job", "describe", "--output", "json", job_id])
        check(r.returncode == 0, f"job describe: {r.stderr}")
        return json.loads(r.stdout)

    def close(self, ok):
        self.proc.terminate()
        self.proc.wait(30)
        self.tb.__exit__(None if ok else harness.TestFailure)  # kept for a look after a failure


def with_pool(case):
    def wrapped():
        pool, ok = Pool(), False
        try:
            case(pool)
            ok = True
        finally:
            pool.close(ok)
    return wrapped


@with_pool
def test_a_remote_run_that_writes_no_file_makes_no_scratch_directory(pool):
    r = pool.tb.local(["wasm", "run", "--wait=false", "--id-only",
                       os.path.join(harness.WASM_DIR, "ticker.wasm"), "20", "100"])
    check(r.returncode == 0, f"submit: {r.stderr}")
    job_id = r.stdout.strip()
    harness.wait_for("the job to run on the remote pool",
                     lambda: pool.describe(job_id)["Job"]["State"]["StateType"] == "Running")
    check(os.listdir(pool.scratch) == [],
          f"while it runs, scratch/ holds {os.listdir(pool.scratch)}, not nothing")
    w = pool.tb.local(["job", "wait", job_id], timeout=60)
    check(w.returncode == 0, f"job wait: {w.stdout} {w.stderr}")
    check(os.listdir(pool.scratch) == [], f"after it, scratch/ holds {os.listdir(pool.scratch)}")
    log("  no directory made for a run that sent no file back")


@with_pool
def test_a_remote_runs_files_in_every_output_come_back(pool):
    out = harness.temp_home("rscratch-get-")
    r = pool.tb.local(["wasm", "run", "-o", "extra:/extra", "--download", "--output-dir", out,
                       os.path.join(harness.WASM_DIR, "ticker.wasm"), "2", "1", "/extra/t.txt"])
    check(r.returncode == 0, f"run: {r.stdout} {r.stderr}")
    got = open(os.path.join(out, "extra", "t.txt")).read()
    check(got == "tick 1\ntick 2\n", f"extra/t.txt: {got!r}")
    harness.wait_for("the run's scratch directory to go", lambda: os.listdir(pool.scratch) == [])
    log("  a named output's file came back; the run's directory went after")


if __name__ == "__main__":
    harness.run_cases(globals())
