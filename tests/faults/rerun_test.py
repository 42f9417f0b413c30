#!/usr/bin/python3
"""Re-runs (the `rerun` command, docs/protocol.md) against a real broker
with two idle-capable workers, so that a second execution of one job could
run beside the first if the broker let it: a running job re-run again and
again, with the broker SIGKILLed right after some of the requests (before
or after their answer) and started again. Throughout, the broker's record
never shows two live executions of the job, each execution ends before the
next one starts, and the job ends Completed with the output the program
always writes (chaos.expected).
"""

import harness
from harness import Broker, Client, check, connect, wait_for
from chaos import expected

K, BUSY_MS = 11, 3000
ROUNDS = 6


def live(job):
    return [e for e in job["executions"] if e["state"] == "Running"]


def check_sequential(job):
    """At most one live execution; each ended before the next started."""
    execs = job["executions"]
    check(len(live(job)) <= 1, f"two live executions: {execs}")
    for a, b in zip(execs, execs[1:]):
        check(a["state"] != "Running", f"execution {a['id']} still runs while {b['id']} exists")
        check(a["ended"] <= b["started"], f"executions overlap: {a} then {b}")


def get(endpoint, job_id):
    kind, body, _ = harness.call_retrying(endpoint, "get", {"id": job_id})
    check(kind == "ok", f"get {job_id}: {kind} {body}")
    check_sequential(body)
    return body


def test_a_rerun_job_never_runs_twice_at_once_through_broker_kills():
    home = harness.temp_home("shoal-rerun-")
    broker = Broker(home, workers=2)
    broker.start()
    check(broker.wait_ready(), "the broker did not start")
    try:
        c = connect(broker.endpoint)
        kind, body, _ = c.call("submit", {"module": "chaos_job.wasm", "args": [str(K), str(BUSY_MS)]},
                               harness.wasm("chaos_job"))
        check(kind == "ok", f"submit: {kind} {body}")
        job_id = body["id"]
        c.close()
        reruns = 0
        for round_ in range(ROUNDS):
            before = len(get(broker.endpoint, job_id)["executions"])
            running = wait_for(f"execution {before} of {job_id} to run", lambda: (
                lambda j: j if j["state"] == "Running" and live(j) else None)(
                    get(broker.endpoint, job_id)), timeout=120)
            if round_ % 2 == 1:
                # Killed with the answer in flight: the re-run may or may not be stored.
                c = Client(broker.endpoint)
                c.send("rerun", {"id": job_id, "reason": f"round {round_}"})
                broker.kill()
                c.close()
                broker.start()
                check(broker.wait_ready(), "the broker did not start again")
            else:
                # Through examples/python_client.py's rerun().
                c = harness.python_client.Client(endpoint=broker.endpoint, reconnect=False,
                                                 timeout_s=60)
                body = c.rerun(job_id, f"round {round_}")
                c.close()
                check(body["id"] == job_id and body["state"] == "Running", f"rerun: {body}")
                reruns += 1
            # The next execution starts only once the one re-run has ended.
            wait_for(f"a new execution of {job_id} after round {round_}", lambda: len(
                get(broker.endpoint, job_id)["executions"]) > len(running["executions"]),
                timeout=120)
        job = wait_for(f"{job_id} to end", lambda: (
            lambda j: j if j["state"] in ("Completed", "Failed", "Stopped") else None)(
                get(broker.endpoint, job_id)), timeout=240)
        check(job["state"] == "Completed" and job["exit_code"] == 0,
              f"{job['state']} {job['message']}")
        history = [e["event"] for e in job["history"]]
        check(sum(m.startswith("rerun requested: round") for m in history) >= reruns,
              f"history: {history}")
        stopped = [e for e in job["executions"] if e["state"] == "Stopped"]
        check(len(stopped) >= reruns and all(
            e["message"].startswith("stopped for a re-run") for e in stopped),
            f"executions stopped for re-runs: {job['executions']}")
        out = logs(broker.endpoint, job_id)
        check(out == expected(K)[0], f"stdout of the last execution: {out!r}")
    finally:
        broker.shutdown()


def test_a_reason_that_is_no_string_or_too_long_is_refused_naming_it():
    # The reason goes into the job's history for good: refused past 4096
    # bytes, never cut; the same rule for stop and rerun.
    with harness.Session("shoal-reason-", workers=1) as s:
        job_id = s.submit("args_env")
        s.wait_state(job_id, ("Completed",))
        for command in ("stop", "rerun"):
            kind, body, _ = s.call(command, {"id": job_id, "reason": "x" * 4097})
            check(kind == "error" and body.get("error") ==
                  f"{command}: reason is 4097 bytes; the most a job's history keeps is 4096",
                  f"{command} with a long reason: {kind} {body}")
            kind, body, _ = s.call(command, {"id": job_id, "reason": 7})
            check(kind == "error" and body.get("error") == f"{command}: reason must be a string",
                  f"{command} with a number for a reason: {kind} {body}")
        kind, body, _ = s.call("rerun", {"id": job_id, "reason": "y" * 4096})
        check(kind == "ok", f"rerun with a reason of 4096 bytes: {kind} {body}")


def logs(endpoint, job_id):
    c = connect(endpoint)
    try:
        c.send("logs", {"id": job_id, "stream": "stdout"})
        out = b""
        while True:
            kind, body, frames = c.recv(timeout=60)
            if kind == "log":
                out += b"".join(frames)
            elif kind == "end":
                return out
            else:
                raise harness.TestFailure(f"logs: {kind} {body}")
    finally:
        c.close()


if __name__ == "__main__":
    harness.run_cases(globals())
