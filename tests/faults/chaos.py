#!/usr/bin/python3
"""Broker crashes during a batch: SIGKILL at random moments, restart, and
check that nothing acknowledged is lost, duplicated or run twice at once.

A submitter pipelines --jobs submissions of chaos_job.wasm (job K: argument
K, outputs that follow from K) through the shoal/1 protocol, while a killer
thread sends SIGKILL to the broker --kills times after random delays (seeded;
the seed is printed, pass --seed to replay) and starts a new one each time.
Some kills land while the new broker is still starting and recovering.

Duplicates: every job carries the labels chaos=RUN and key=K. The client's
socket never reconnects (harness.Client), so when its broker dies each
unanswered submission was either committed by that broker or lost with it;
the client then lists the jobs labelled chaos=RUN on a fresh connection and
resubmits only the keys that are not there.

At the end every key must have exactly one job, Completed with exit code 0;
its stdout, stderr and /outputs/result.txt byte-identical to what job K
writes without faults; its executions one after the other (each ended before
the next started); and after every restart the workers of the killed broker
must be gone by the time the new one answers.
"""

import argparse
import random
import shutil
import threading
import time

import harness
from harness import Broker, Client, Disconnected, TestFailure, check, log


def xorshift(x):
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    return x


def expected(k, copied=b""):
    """What chaos_job.wasm K writes: (stdout, stderr, result.txt); `copied`
    is the content of the file named by its third argument."""
    x = (k * 2654435761 + 1) & 0xFFFFFFFF
    out = f"job {k}\n"
    for _ in range(k % 7 + 1):
        x = xorshift(x)
        out += f"{x:08x}\n"
    out = out.encode() + copied
    result = bytearray()
    for _ in range(64 + k % 512):
        x = xorshift(x)
        result.append(ord("a") + x % 26)
    return out, f"{k} done\n".encode(), bytes(result)


class Killer(threading.Thread):
    def __init__(self, broker, kills, rng, min_delay, max_delay, done):
        super().__init__(daemon=True)
        self.broker, self.kills, self.rng = broker, kills, rng
        self.min_delay, self.max_delay = min_delay, max_delay
        self.done = done  # set by the main thread when all jobs ended
        self.count = 0
        self.early = 0
        self.orphans_checked = 0
        self.orphans_starting = 0  # still starting up, not yet fenced, when checked
        self.error = None
        self.log = []

    def run(self):
        try:
            self.loop()
        except Exception as e:  # reported by the main thread
            self.error = e

    def loop(self):
        while self.count < self.kills and not self.done.is_set():
            early = self.rng.random() < 0.25
            if early:
                # Soon after the start: while it fences, recovers, re-queues.
                delay = self.rng.uniform(0.0, 0.3)
            else:
                check(self.broker.wait_ready(), f"broker {self.broker.pid} died by itself")
                delay = self.rng.uniform(self.min_delay, self.max_delay)
            if self.done.wait(delay):
                return
            old = self.broker.pid
            workers = harness.worker_pids(old)
            self.broker.kill()
            self.count += 1
            self.early += early
            self.log.append(f"kill {self.count}: broker {old} after {delay:.3f} s"
                            f"{' (early)' if early else ''}, {len(workers)} workers")
            self.broker.start()
            if not self.broker.wait_ready():
                continue  # should not happen; the next round notices
            # A worker of the killed broker may still be starting (loading
            # V8) when the new broker serves: harmless as long as it never
            # got as far as the fence lock, for then it sees its parent gone
            # and exits. One that holds the lock would be a live executor.
            still = [p for p in workers if harness.alive(p)]
            fenced = [p for p in still if harness.holds_posix_lock(p)]
            check(not fenced, f"workers {fenced} of killed broker {old} still run while broker "
                  f"{self.broker.pid} serves")
            harness.wait_for(f"workers {still} of killed broker {old} to exit",
                             lambda: not any(harness.alive(p) for p in still), timeout=30)
            self.orphans_checked += len(workers)
            self.orphans_starting += len(still)


def submit_all(endpoint, run, keys, module, window, busy_ms, rate=0):
    """Submits every key exactly once, at most `rate` a second (0: as fast
    as the broker takes them); returns {key: job id}."""
    ids = {}
    start = time.monotonic()
    sent = 0
    todo = list(keys)
    resubmitted = 0
    reconnects = 0
    while todo:
        c = harness.connect(endpoint)
        outstanding = []
        try:
            while todo or outstanding:
                while todo and len(outstanding) < window:
                    if rate and time.monotonic() < start + sent / rate:
                        if outstanding:
                            break  # collect replies meanwhile
                        # (the clock moved since the check: never a negative sleep)
                        time.sleep(max(0.0, start + sent / rate - time.monotonic()))
                    k = todo.pop(0)
                    sent += 1
                    outstanding.append(k)  # first: a send that fails leaves it unknown
                    c.send("submit", {"module": "chaos_job.wasm", "args": [str(k), str(busy_ms)],
                                      "labels": {"chaos": run, "key": str(k)}}, module)
                kind, body, _ = c.recv(timeout=120)
                k = outstanding.pop(0)
                check(kind == "ok", f"submit of key {k} answered {kind} {body}")
                ids[k] = body["id"]
        except (Disconnected, TimeoutError) as e:
            reconnects += 1
            c.close()
            # What the dead broker committed is in the store; the rest is lost.
            listed = by_key(endpoint, run)
            for k in outstanding:
                found = listed.get(k, [])
                check(len(found) <= 1, f"key {k} submitted twice: {found}")
                if found:
                    ids[k] = found[0]
                else:
                    todo.append(k)
                    resubmitted += 1
            continue
        c.close()
    return ids, resubmitted, reconnects


def by_key(endpoint, run):
    out = {}
    for job in all_jobs(endpoint, run):
        out.setdefault(int(job["spec"]["labels"]["key"]), []).append(job["id"])
    return out


def all_jobs(endpoint, run):
    """Every job of the run, page by page: a reply reads at most 10,000
    records and says where to go on (`next`, docs/protocol.md `list`)."""
    jobs, after = [], ""
    while True:
        kind, body, _ = harness.call_retrying(
            endpoint, "list", {"labels": {"chaos": run}, "limit": 0, "after": after})
        check(kind == "ok", f"list answered {kind} {body}")
        jobs += body.get("jobs", [])
        after = body.get("next", "")
        if kind != "ok" or not after:
            return jobs


def fetch_logs(c, job_id):
    c.send("logs", {"id": job_id})
    out, err = b"", b""
    while True:
        kind, body, frames = c.recv(timeout=60)
        if kind == "log":
            if body["stream"] == "stdout":
                out += frames[0]
            else:
                err += frames[0]
        else:
            check(kind == "end", f"logs of {job_id} answered {kind} {body}")
            return out, err


def verify(endpoint, run, keys, ids):
    jobs = all_jobs(endpoint, run)
    per_key = {}
    for j in jobs:
        per_key.setdefault(int(j["spec"]["labels"]["key"]), []).append(j)
    check(sorted(per_key) == sorted(keys),
          f"{len(keys) - len(per_key)} keys have no job: {sorted(set(keys) - set(per_key))[:10]}")
    executions = 0
    restarted = 0
    c = harness.connect(endpoint)
    for k in keys:
        js = per_key[k]
        check(len(js) == 1, f"key {k} has {len(js)} jobs: {[j['id'] for j in js]}")
        j = js[0]
        check(j["id"] == ids[k], f"key {k}: acknowledged {ids[k]}, stored {j['id']}")
        check(j["state"] == "Completed" and j["exit_code"] == 0,
              f"job {j['id']} (key {k}) is {j['state']} ({j['message']}), exit {j['exit_code']}")
        ex = sorted(j["executions"], key=lambda e: e["attempt"])
        executions += len(ex)
        restarted += len(ex) > 1
        check(ex[-1]["state"] == "Completed", f"job {j['id']}: last execution {ex[-1]}")
        for a, b in zip(ex, ex[1:]):
            check(a["ended"] and a["state"] != "Running",
                  f"job {j['id']}: execution {a['id']} never ended but {b['id']} started")
            check(a["ended"] <= b["started"],
                  f"job {j['id']}: execution {a['id']} ended {a['ended']} after {b['id']} "
                  f"started {b['started']}: two live executions")
        out, err, result = expected(k)
        got_out, got_err = fetch_logs(c, j["id"])
        check(got_out == out, f"job {j['id']} (key {k}) stdout {got_out!r}, expected {out!r}")
        check(got_err == err, f"job {j['id']} (key {k}) stderr {got_err!r}, expected {err!r}")
        kind, body, frames = c.call("output", {"id": j["id"], "name": "outputs",
                                               "path": "result.txt"})
        check(kind == "ok" and frames and frames[0] == result,
              f"job {j['id']} (key {k}) result.txt: {kind} {body} {frames[:1]!r}")
    c.close()
    return executions, restarted


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--window", type=int, default=100, help="submissions in flight")
    ap.add_argument("--busy-ms", type=int, default=5, help="each job's busy time")
    ap.add_argument("--rate", type=float, default=100,
                    help="submissions a second (0: unpaced), so that kills land during "
                         "submission too")
    ap.add_argument("--min-delay", type=float, default=0.3)
    ap.add_argument("--max-delay", type=float, default=2.0)
    ap.add_argument("--timeout", type=float, default=900, help="seconds for the whole batch")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 32)
    log(f"chaos: seed {seed} (replay with --seed {seed}), {a.jobs} jobs, {a.kills} kills, "
        f"{a.workers} workers")
    rng = random.Random(seed)
    run = f"r{seed}"
    home = harness.temp_home("shoal-chaos-")
    broker = Broker(home, workers=a.workers)
    broker.start()
    check(broker.wait_ready(), "the first broker did not start")
    module = harness.wasm("chaos_job")
    keys = list(range(a.jobs))
    done = threading.Event()
    killer = Killer(broker, a.kills, rng, a.min_delay, a.max_delay, done)
    started = time.monotonic()
    ok = False
    try:
        killer.start()
        ids, resubmitted, reconnects = submit_all(broker.endpoint, run, keys, module,
                                                  a.window, a.busy_ms, a.rate)
        check(len(ids) == len(keys), f"{len(keys) - len(ids)} keys were never acknowledged")
        submitted_s = time.monotonic() - started
        log(f"chaos: {len(ids)} submissions acknowledged in {submitted_s:.1f} s "
            f"({reconnects} lost connections, {resubmitted} resubmitted after checking)")
        # Wait for every job to end, through whatever kills are still coming.
        while True:
            check(killer.error is None, f"killer: {killer.error}")
            jobs = all_jobs(broker.endpoint, run)
            unfinished = [j for j in jobs if j["state"] not in ("Completed", "Failed", "Stopped")]
            if not unfinished and killer.count >= a.kills:
                break
            if not unfinished and killer.count < a.kills:
                break  # the batch ended first; reported below
            check(time.monotonic() - started < a.timeout,
                  f"{len(unfinished)} jobs unfinished after {a.timeout} s")
            time.sleep(0.5)
        done.set()
        killer.join()
        check(killer.error is None, f"killer: {killer.error}")
        for line in killer.log:
            log("chaos:", line)
        check(killer.count >= a.kills,
              f"the batch ended after {killer.count} kills, before {a.kills}: "
              "use more --jobs or a longer --busy-ms")
        broker.wait_ready()
        batch_s = time.monotonic() - started
        executions, restarted = verify(broker.endpoint, run, keys, ids)
        log(f"chaos: seed {seed}: {a.jobs} jobs, {killer.count} broker kills "
            f"({killer.early} during start-up), {killer.orphans_checked} orphaned workers "
            f"checked gone ({killer.orphans_starting} of them still starting, unfenced), "
            f"{executions} executions, {restarted} jobs re-run after a kill, "
            f"{resubmitted} submissions retried; lost 0, duplicated 0, overlapping "
            f"executions 0; batch {batch_s:.1f} s")
        ok = True
    except TestFailure as e:
        raise TestFailure(f"{e} (seed {seed}; state in {home})")
    finally:
        done.set()
        broker.shutdown()
    if ok:  # a failed run keeps its state directory for a look
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    harness.run_main(main)
