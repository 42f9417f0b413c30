#!/usr/bin/python3
"""Broker and worker kills during job arrays: nothing acknowledged is lost,
no array is stored in part, and every task ends exactly once.

A submitter sends --arrays job arrays of chaos_job.wasm, one after another,
array B holding the indices B*SIZE .. B*SIZE+SIZE-1 (task K runs job K of
chaos.py: argument K, outputs that follow from K) and the label batch=B;
meanwhile a killer thread sends SIGKILL to the broker --kills times at
random moments (seeded; pass --seed to replay; the arrays are sent --pause
seconds apart so that kills land during submissions) and starts a new one, and
another kills a worker --worker-kills times while tasks run. When the
submitter's broker dies before it answers, the store must hold all of that
array's tasks or none of them (one submission is one commit): the submitter
lists batch=B on the next broker and submits the array again only when none
is there.

At the end every batch has exactly one array of SIZE tasks, every task
Completed with exit code 0, its stdout, stderr and result.txt those of job
K, its executions one after another.
"""

import argparse
import os
import random
import signal
import shutil
import threading
import time

import chaos
import harness
from harness import Broker, Disconnected, TestFailure, check, log


def batch_tasks(endpoint, run, batch):
    kind, body, _ = harness.call_retrying(
        endpoint, "list", {"labels": {"chaos": run, "batch": str(batch)}, "limit": 0})
    check(kind == "ok", f"list answered {kind} {body}")
    return body["jobs"]


def submit_arrays(endpoint, run, arrays, size, module, busy_ms, pause):
    """Each array once, `pause` seconds apart (so that kills land during the
    submissions too); returns {batch: array id} and how many were retried."""
    ids, retried = {}, 0
    batch = 0
    while batch < arrays:
        c = harness.connect(endpoint)
        try:
            while batch < arrays:
                first = batch * size
                c.send("submit", {"module": "chaos_job.wasm", "args": ["{}", str(busy_ms)],
                                  "labels": {"chaos": run, "batch": str(batch)},
                                  "array": {"indices": f"{first}-{first + size - 1}"}}, module)
                kind, body, _ = c.recv(timeout=120)
                check(kind == "ok" and body.get("tasks") == size,
                      f"array {batch} answered {kind} {body}")
                ids[batch] = body["id"]
                batch += 1
                time.sleep(pause)
        except (Disconnected, TimeoutError):
            c.close()
            stored = batch_tasks(endpoint, run, batch)
            check(len(stored) in (0, size),
                  f"array {batch}: {len(stored)} of its {size} tasks were stored")
            if stored:
                ids[batch] = stored[0]["id"].rsplit("-", 1)[0]
                batch += 1
            else:
                retried += 1
            continue
        c.close()
    return ids, retried


class WorkerKiller(threading.Thread):
    def __init__(self, broker, kills, rng, done):
        super().__init__(daemon=True)
        self.broker, self.kills, self.rng, self.done = broker, kills, rng, done
        self.count = 0

    def run(self):
        while self.count < self.kills and not self.done.wait(self.rng.uniform(0.2, 1.0)):
            workers = harness.worker_pids(self.broker.pid)
            if workers:
                os.kill(self.rng.choice(workers), signal.SIGKILL)
                self.count += 1


def verify(endpoint, run, arrays, size, ids):
    c = harness.connect(endpoint)
    executions = restarted = 0
    for batch in range(arrays):
        tasks = batch_tasks(endpoint, run, batch)
        check(len(tasks) == size, f"array {batch} has {len(tasks)} tasks, not {size}")
        by_index = {}
        for t in tasks:
            array_id, index = t["id"].rsplit("-", 1)
            check(array_id == ids[batch], f"task {t['id']} is not of array {ids[batch]}")
            by_index[int(index)] = t
        check(sorted(by_index) == list(range(batch * size, batch * size + size)),
              f"array {batch}: indices {sorted(by_index)[:5]}...")
        for k, t in by_index.items():
            check(t["state"] == "Completed" and t["exit_code"] == 0,
                  f"task {t['id']} is {t['state']} ({t['message']}), exit {t['exit_code']}")
            ex = sorted(t["executions"], key=lambda e: e["attempt"])
            executions += len(ex)
            restarted += len(ex) > 1
            for a, b in zip(ex, ex[1:]):
                check(a["ended"] and a["ended"] <= b["started"],
                      f"task {t['id']}: executions {a['id']} and {b['id']} overlap")
            out, err, result = chaos.expected(k)
            got_out, got_err = chaos.fetch_logs(c, t["id"])
            check((got_out, got_err) == (out, err), f"task {t['id']}: output {got_out!r}")
            kind, body, frames = c.call("output", {"id": t["id"], "name": "outputs",
                                                   "path": "result.txt"})
            check(kind == "ok" and frames and frames[0] == result,
                  f"task {t['id']} result.txt: {kind} {body}")
    c.close()
    return executions, restarted


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arrays", type=int, default=20)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--kills", type=int, default=6)
    ap.add_argument("--worker-kills", type=int, default=4)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--busy-ms", type=int, default=5)
    ap.add_argument("--pause", type=float, default=0.3, help="seconds between submissions")
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 32)
    log(f"array chaos: seed {seed} (replay with --seed {seed}), {a.arrays} arrays of {a.size}, "
        f"{a.kills} broker kills, {a.worker_kills} worker kills")
    rng = random.Random(seed)
    run = f"a{seed}"
    home = harness.temp_home("shoal-array-chaos-")
    broker = Broker(home, workers=2)
    broker.start()
    check(broker.wait_ready(), "the first broker did not start")
    done = threading.Event()
    killer = chaos.Killer(broker, a.kills, rng, 0.2, 1.5, done)
    worker_killer = WorkerKiller(broker, a.worker_kills, random.Random(seed + 1), done)
    started = time.monotonic()
    ok = False
    try:
        killer.start()
        worker_killer.start()
        ids, retried = submit_arrays(broker.endpoint, run, a.arrays, a.size,
                                     harness.wasm("chaos_job"), a.busy_ms, a.pause)
        while True:
            check(killer.error is None, f"killer: {killer.error}")
            kind, body, _ = harness.call_retrying(broker.endpoint, "list",
                                                  {"labels": {"chaos": run}, "limit": 0})
            unfinished = [j for j in body["jobs"]
                          if j["state"] not in ("Completed", "Failed", "Stopped")]
            if not unfinished:
                break
            check(time.monotonic() - started < a.timeout,
                  f"{len(unfinished)} tasks unfinished after {a.timeout} s")
            time.sleep(0.5)
        done.set()
        killer.join()
        worker_killer.join()
        check(killer.error is None, f"killer: {killer.error}")
        broker.wait_ready()
        executions, restarted = verify(broker.endpoint, run, a.arrays, a.size, ids)
        log(f"array chaos: seed {seed}: {a.arrays * a.size} tasks in {a.arrays} arrays, "
            f"{killer.count} broker kills, {worker_killer.count} worker kills, {retried} arrays "
            f"resubmitted after checking; {executions} executions, {restarted} tasks re-run; "
            f"lost 0, stored in part 0, duplicated 0; {time.monotonic() - started:.1f} s")
        ok = True
    except TestFailure as e:
        raise TestFailure(f"{e} (seed {seed}; state in {home})")
    finally:
        done.set()
        broker.shutdown()
    if ok:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    harness.run_main(main)
