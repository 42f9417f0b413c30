#!/usr/bin/python3
"""tools/bench-pilot, the batch script `tools/bench --only pools` submits
to Slurm as each pilot (docs/scale.md), run here without Slurm: it joins a
`--listen tcp://127.0.0.1:PORT --workers 0` broker as a pool of its own with
the worker key it was given, runs jobs, keeps its keys private, and leaves
when signalled as Slurm signals it at scancel. No Slurm, no root: the
benchmark itself is a documented command, not part of the test suite.
"""

import os
import signal
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "security"))

import harness  # noqa: E402
from harness import check, log  # noqa: E402
from tcp_broker import TcpBroker, run  # noqa: E402

PILOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "bench-pilot")
SLOTS = 2


def remote_pools(tb):
    c = harness.connect(tb.endpoint_ipc)
    try:
        kind, body, _ = c.call("nodes")
    finally:
        c.close()
    check(kind == "ok", f"nodes: {kind} {body}")
    return [p for p in body["nodes"] if p["remote"]]


def start_pilot(tb, key_dir, base):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    return subprocess.Popen(
        [PILOT, os.path.abspath(harness.SHOAL), f"tcp://127.0.0.1:{tb.port + 1}", tb.server_key,
         key_dir, str(SLOTS), base], env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_pilot_joins_runs_and_leaves():
    with TcpBroker("pilot-", workers=0) as tb:
        tb.endpoint_ipc = "ipc://" + os.path.join(tb.home, "run", "broker.sock")
        key_home = harness.temp_home("pilot-keys-")
        wkey = run([harness.SHOAL, "keys", "generate"], dict(tb.env, SHOAL_HOME=key_home))
        check(wkey.returncode == 0, f"shoal keys generate: {wkey.stderr}")
        added = tb.local(["keys", "add-worker", "--name", "pilots", "--", wkey.stdout.strip()])
        check(added.returncode == 0, f"shoal keys add-worker: {added.stderr}")
        base = harness.temp_home("pilot-base-")
        pilot = start_pilot(tb, os.path.join(key_home, "keys"), base)
        try:
            harness.wait_for(f"the pilot's pool with {SLOTS} ready slots",
                             lambda: pilot.poll() is not None or any(
                                 p["ready"] == SLOTS for p in remote_pools(tb)))
            if pilot.poll() is not None:
                raise harness.TestFailure(f"the pilot exited: {pilot.stderr.read().decode()}")
            pools = remote_pools(tb)
            check(len(pools) == 1 and pools[0]["labels"] == {"pilot": "local"},
                  f"one pool labelled pilot=local, got {pools}")
            r = tb.local(["wasm", "run", os.path.join(harness.WASM_DIR, "exit_code.wasm"), "3"])
            check(r.returncode == 3, f"a job on the pilot (no local workers) exited "
                  f"{r.returncode}, not 3: {r.stderr}")
            state = os.path.join(base, f"pilot-local-{pilot.pid}")
            for path, mode in ((state, 0o700), (os.path.join(state, "keys"), 0o700),
                               (os.path.join(state, "keys", "identity.key"), 0o600)):
                got = stat.S_IMODE(os.stat(path).st_mode)
                check(got == mode, f"{path}: mode {got:o}, want {mode:o}")
            log("  joined as one pool, ran a job, keys private")
            pilot.send_signal(signal.SIGTERM)  # what scancel sends the job's processes
            check(pilot.wait(30) == 0, "the pilot did not exit 0 on SIGTERM")
            harness.wait_for("the broker to drop the pool", lambda: not remote_pools(tb))
            log("  left on SIGTERM; the broker dropped its pool")
        finally:
            if pilot.poll() is None:
                pilot.kill()
                pilot.wait()
            pilot.stderr.close()


def test_wrong_arguments_print_usage():
    r = subprocess.run([PILOT, "only", "two"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and "sbatch" in r.stderr, f"exit {r.returncode}: {r.stderr}")


if __name__ == "__main__":
    harness.run_cases(globals())
