#!/usr/bin/python3
"""Values out of range, refused at the broker with a message that names the
field (the CLI's checks are not a boundary), and states that must not carry
an earlier execution's words."""

import os
import signal
import subprocess

import harness
from harness import Session, check, wasm


def refused(s, spec, expected):
    kind, body, _ = s.call("submit", {"module": "exit_code.wasm", **spec}, wasm("exit_code"))
    check(kind == "error", f"{spec} was accepted: {body}")
    check(body["error"] == "invalid job: " + expected, f"{spec}: {body['error']!r}")


def test_timeouts_and_memory_limits_out_of_range_are_refused_naming_the_field():
    with Session("shoal-sec-values-") as s:
        refused(s, {"timeout_s": 1e300}, "timeout_s 1e+300 is over the most, 315360000 "
                "(ten years); 0 means no timeout")
        refused(s, {"timeout_s": 1e-9}, "timeout_s 1e-09 is shorter than a millisecond, the "
                "smallest timeout; 0 means no timeout")
        refused(s, {"timeout_s": -1}, "timeout_s -1 is negative")
        refused(s, {"timeout_s": "5"}, "timeout_s must be a number, not \"5\"")
        refused(s, {"memory": -1}, "memory -1 is negative")
        refused(s, {"memory": 1.5}, "memory must be a whole number of bytes, not 1.5")
        refused(s, {"memory": 8 << 30}, "memory 8589934592 is over 4 GiB, the most a wasm32 "
                "module's memory can hold")
        refused(s, {"memory": 1000}, "memory 1000 is less than one WebAssembly page (65536 "
                "bytes, 64 KiB)")
        refused(s, {"outputs": [{"name": "a", "path": "/o1"}, {"name": "a", "path": "/o2"}]},
                "two outputs are named 'a'; each output needs a name of its own")
        # The edges are accepted, and a timeout is kept to the millisecond.
        kind, body, _ = s.call("submit", {"module": "exit_code.wasm", "timeout_s": 0.0015,
                                          "memory": 4 << 30, "args": ["0"]}, wasm("exit_code"))
        check(kind == "ok", f"edge values refused: {body}")
        spec = s.job(body["id"])["spec"]
        check(spec["timeout_s"] == 0.002 and spec["memory"] == 4 << 30, f"stored as {spec}")


def test_other_commands_refuse_values_out_of_range_naming_them():
    with Session("shoal-sec-values-") as s:
        kind, body, _ = s.call("prune", {"older_than_s": 1e300})
        check(kind == "error" and body["error"] == "prune needs older_than_s, seconds from 0 to "
              "9000000000", f"prune: {kind} {body}")
        job = s.submit("exit_code", [0])
        s.wait_state(job, ["Completed"])
        kind, body, _ = s.call("logs", {"id": job, "stream": "bogus"})
        check(kind == "error" and body["error"] == "stream must be stdout, stderr or all, not "
              "'bogus'", f"logs: {kind} {body}")
        # JSON numbers would otherwise wrap (-1 as 2^64-1) or truncate (1.5 as 1).
        for command, request, expected in [
                ("list", {"limit": -1}, "limit -1 is negative"),
                ("list", {"limit": 2.5}, "limit must be a whole number, not 2.5"),
                ("output", {"id": job, "name": "outputs", "path": "x", "offset": -5},
                 "offset -5 is negative"),
                ("output", {"id": job, "name": "outputs", "path": "x", "length": 1.5},
                 "length must be a whole number of bytes, not 1.5")]:
            kind, body, _ = s.call(command, request)
            check(kind == "error" and body["error"] == expected, f"{command} {request}: {body}")


def test_the_cli_says_a_memory_limit_below_what_the_module_needs_in_readable_units():
    with Session("shoal-sec-values-") as s:
        r = subprocess.run([harness.SHOAL, "wasm", "run", "--memory", "64KiB",
                            os.path.join(harness.WASM_DIR, "exit_code.wasm")],
                           env=s.broker.env, capture_output=True, text=True, timeout=120)
        check(r.returncode == 126, f"exit {r.returncode}: {r.stderr}")
        check("of memory to start, more than the memory limit of 64.0 KiB" in r.stderr and
              "needs 0 MiB" not in r.stderr, f"stderr {r.stderr!r}")


def test_a_completed_job_carries_no_message_from_an_earlier_failed_execution():
    with Session("shoal-sec-values-") as s:
        job = s.submit("chaos_job", [7, 2000])  # busy for 2 s, then completes
        pid = s.wait_running(job, 1)
        os.kill(pid, signal.SIGKILL)
        j = s.wait_state(job, ["Completed", "Failed"])
        check(j["state"] == "Completed", f"{j['state']}: {j['message']}")
        check(len(j["executions"]) == 2, f"{len(j['executions'])} executions")
        check(j["executions"][0]["message"].endswith("was killed by signal 9 (Killed)"),
              f"the first execution says {j['executions'][0]['message']!r}")
        check(j["message"] == "", f"the completed job says {j['message']!r}")


def test_shutdown_exits_non_zero_when_a_broker_runs_but_cannot_be_reached():
    home = harness.temp_home("shoal-sec-values-")
    env = dict(os.environ, SHOAL_HOME=home)
    r = subprocess.run([harness.SHOAL, "shutdown"], env=env, capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == 0 and r.stderr == f"shoal: no broker is running for {home}; nothing "
          "to stop\n", f"no broker: {r.returncode} {r.stderr!r}")
    with Session("shoal-sec-values-") as s:
        os.kill(s.broker.pid, signal.SIGSTOP)
        try:
            r = subprocess.run([harness.SHOAL, "shutdown"], env=s.broker.env,
                               capture_output=True, text=True, timeout=120)
        finally:
            os.kill(s.broker.pid, signal.SIGCONT)
        check(r.returncode == 125, f"a stopped broker: exit {r.returncode} {r.stderr!r}")
        check("is running but does not answer" in r.stderr, f"stderr {r.stderr!r}")


harness.run_cases(globals())
