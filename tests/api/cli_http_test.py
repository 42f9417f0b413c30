#!/usr/bin/env python3
"""The `shoal` command over the REST API (--api-host/--api-port, SHOAL_API_*,
BACALHAU_API_*; cli/backend.h) against a real `shoal serve --api-port`: the
same commands print the same bytes through the broker's socket and through
HTTP, for jobs that completed, failed, exited non-zero, wrote output files
and were stopped; `job get` writes the same files; `wasm run` over HTTP
runs and exits with the program's status; `agent *` answers the same;
commands that only the socket serves say so, naming the command and the flag.
Run by `meson test cli_http`, or directly:
  SHOAL_BIN=build/shoal SHOAL_TEST_WASM_DIR=build/tests/wasm \\
    /usr/bin/python3 tests/api/cli_http_test.py [case]
"""
import filecmp
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_server import SHOAL, WASM_DIR, ApiServer  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import cases  # noqa: E402
from cases import check, failures  # noqa: E402,F401


def wasm(name):
    return os.path.join(WASM_DIR, name)


def run(api, *args, http=False, env=None, stdin=None):
    e = dict(api.env)
    for k in ("SHOAL_API_HOST", "SHOAL_API_PORT", "BACALHAU_API_HOST", "BACALHAU_API_PORT"):
        e.pop(k, None)
    e.update(env or {})
    argv = [SHOAL, *(["--api-port", str(api.port)] if http else []), *args]
    return subprocess.run(argv, env=e, capture_output=True, text=True, timeout=120,
                          stdin=stdin or subprocess.DEVNULL)


def same(api, *args):
    sock, over = run(api, *args), run(api, *args, http=True)
    return check((sock.returncode, sock.stdout, sock.stderr) == (over.returncode, over.stdout, over.stderr),
                 f"shoal {' '.join(args)} differs:\n--- socket ({sock.returncode})\n{sock.stdout}"
                 f"{sock.stderr}\n--- http ({over.returncode})\n{over.stdout}{over.stderr}")


def job_ids(api):
    r = run(api, "job", "list", "--limit", "0", "--output", "csv", "--hide-header")
    return [line.split(",")[1] for line in r.stdout.splitlines()]


def submit_jobs(api):
    """A few jobs of every ending, once per process (cached on `api`)."""
    if getattr(api, "jobs", None):
        return api.jobs
    run(api, "wasm", "run", "--name", "hello", "-l", "team=blue", wasm("args_env.wasm"), "a", "b c",
        "-e", "K=V")
    run(api, "wasm", "run", wasm("trap.wasm"))
    run(api, "wasm", "run", wasm("exit_code.wasm"), "3")
    run(api, "wasm", "run", "-o", "data:/data", wasm("files.wasm"))
    # Output paths past tar's 100 bytes travel as long names.
    run(api, "wasm", "run", "-o", "out:/out", wasm("tree_maker.wasm"), "deep", "/out", "4", "40")
    run(api, "wasm", "run", "-f", wasm("ticker.wasm"), "3")
    stopped = run(api, "wasm", "run", "--wait=false", wasm("spin.wasm")).stdout.strip()
    run(api, "job", "stop", stopped)
    # Over HTTP too: a job submitted through the API is one like the others.
    run(api, "wasm", "run", wasm("exit_code.wasm"), "5", http=True)
    api.jobs = job_ids(api)
    return api.jobs


def test_the_same_output_through_the_socket_and_http(api):
    ids = submit_jobs(api)
    check(len(ids) == 8, f"jobs: {ids}")
    for args in (["job", "list"], ["job", "list", "--wide"], ["job", "list", "--limit", "2"],
                 ["job", "list", "--labels", "team=blue"], ["job", "list", "--id-filter", ids[0][:6]],
                 ["agent", "alive"], ["agent", "version"], ["agent", "node"]):
        same(api, *args)
    for job in ids:
        for what in ("describe", "executions", "history", "logs"):
            same(api, "job", what, job)
        same(api, "job", "logs", "--stream", "stderr", job)


def test_job_get_writes_the_same_files(api):
    longest = 0
    for job in submit_jobs(api):
        with tempfile.TemporaryDirectory() as d:
            a, b = os.path.join(d, "socket"), os.path.join(d, "http")
            ra = run(api, "job", "get", job, "--output-dir", a)
            rb = run(api, "job", "get", job, "--output-dir", b, http=True)
            check(ra.returncode == rb.returncode == 0, f"job get {job}: {ra.stderr} {rb.stderr}")
            files = [os.path.relpath(os.path.join(r, f), a) for r, _, fs in os.walk(a) for f in fs]
            got = [os.path.relpath(os.path.join(r, f), b) for r, _, fs in os.walk(b) for f in fs]
            check(sorted(files) == sorted(got), f"job get {job}: {sorted(files)} vs {sorted(got)}")
            longest = max([longest] + [len(f) for f in got])
            match, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
            check(not mismatch and not errors, f"job get {job}: differ {mismatch} {errors}")
    check(longest > 100, f"no output path longer than tar's 100 bytes was tried ({longest})")


def test_job_get_never_replaces_a_file_on_either_path(api):
    # A second get into the same place is refused naming the file, through
    # the socket and through HTTP alike, and leaves the first's files as
    # they were.
    job = submit_jobs(api)[0]
    with tempfile.TemporaryDirectory() as d:
        check(run(api, "job", "get", job, "--output-dir", d).returncode == 0, "the first get")
        with open(os.path.join(d, "stdout"), "rb") as f:
            first = f.read()
        for http in (False, True):
            r = run(api, "job", "get", job, "--output-dir", d, http=http)
            said = (f"shoal: --output-dir {d}: {d}/stdout already exists: results never replace "
                    "a file; write them to a new or empty directory\n")
            check(r.returncode == 125 and r.stderr == said,
                  f"a second get (http={http}): {r.returncode} {r.stderr!r}")
        with open(os.path.join(d, "stdout"), "rb") as f:
            check(f.read() == first, "the first get's stdout was changed")


def test_wasm_run_over_http_exits_with_the_programs_status(api):
    r = run(api, "wasm", "run", wasm("exit_code.wasm"), "7", http=True)
    check(r.returncode == 7 and "exiting with 7" in r.stdout, f"exit 7: {r.returncode} {r.stdout}")
    r = run(api, "wasm", "run", "-f", wasm("ticker.wasm"), "2", http=True)
    check(r.returncode == 0 and r.stdout.startswith("tick 1\ntick 2\n"), f"-f: {r.stdout!r}")
    r = run(api, "wasm", "run", "--id-only", "--wait=false", wasm("args_env.wasm"), http=True)
    job = r.stdout.strip()
    check(r.returncode == 0 and job.startswith("j-"), f"--id-only: {r.stdout!r}")
    check(job in job_ids(api), "a job submitted over HTTP is not listed through the socket")


def test_job_rerun_through_the_socket_and_http(api):
    job = run(api, "wasm", "run", "--id-only", wasm("exit_code.wasm"), "4").stdout.strip()
    for http in (False, True):
        r = run(api, "job", "rerun", "--reason", f"http={http}", job, http=http)
        check(r.returncode == 4 and "exiting with 4" in r.stdout,
              f"rerun (http={http}): {r.returncode} {r.stdout} {r.stderr}")
        hist = run(api, "job", "history", job).stdout
        check(f"rerun requested: http={http}" in hist, f"history (http={http}): {hist}")
    r = run(api, "job", "rerun", "--id-only", "--wait=false", job, http=True)
    check(r.returncode == 0 and r.stdout.strip() == job, f"--id-only --wait=false: {r.stdout!r}")
    r = run(api, "job", "wait", job)
    execs = run(api, "job", "executions", job, "--output", "json").stdout
    check(execs.count('"ExitCode":4') == 4, f"4 executions each exit 4: {execs[:600]}")
    r = run(api, "job", "rerun", "--version", "2", job)
    check(r.returncode == 125 and "one version" in r.stderr, f"--version 2: {r.returncode} {r.stderr}")
    queued = run(api, "wasm", "run", "--id-only", "--wait=false", wasm("spin.wasm")).stdout.strip()
    waiting = run(api, "wasm", "run", "--id-only", "--wait=false", wasm("args_env.wasm"))
    waiting = waiting.stdout.strip()
    for http in (False, True):
        r = run(api, "job", "rerun", waiting, http=http)
        check(r.returncode == 125 and "cannot rerun job in state" in r.stderr,
              f"rerun of an unrun job (http={http}): {r.returncode} {r.stderr}")
    run(api, "job", "stop", queued)
    run(api, "job", "wait", waiting)


def test_agent_commands(api):
    r = run(api, "agent", "alive")
    check(r.returncode == 0 and r.stdout == "Status: \"OK\"\n", f"agent alive: {r.stdout!r}")
    r = run(api, "agent", "version")
    lines = r.stdout.splitlines()
    check(len(lines) == 3 and lines[0].startswith("shoal v") and lines[1].startswith("BuildDate "),
          f"agent version: {r.stdout!r}")
    r = run(api, "agent", "node", "--output", "json")
    check('"NodeType":"Requester"' in r.stdout and '"ExecutionEngines":["wasm"]' in r.stdout,
          f"agent node: {r.stdout}")
    r = run(api, "agent", "config", "--output", "json", "--pretty")
    check(f'"Port": {api.port}' in r.stdout and '"DataDir": "' + api.home in r.stdout,
          f"agent config: {r.stdout}")


def test_the_environment_variables_choose_http_as_the_flags_do(api):
    for env in ({"SHOAL_API_PORT": str(api.port)}, {"BACALHAU_API_PORT": str(api.port)},
                {"BACALHAU_API_HOST": f"http://127.0.0.1:{api.port}"}):
        r = run(api, "job", "delete", "j-none", env=env)
        check(r.returncode == 125 and "does not work over the REST API" in r.stderr,
              f"{env}: job delete did not go to HTTP: {r.returncode} {r.stderr}")
        same_env = run(api, "agent", "config", "--output", "json", env=env)
        check(f'"Port":{api.port}' in same_env.stdout, f"{env}: agent config {same_env.stdout}")
    r = run(api, "agent", "alive", env={"SHOAL_API_PORT": "notaport"})
    check(r.returncode == 125 and "SHOAL_API_PORT 'notaport' is not a port number" in r.stderr,
          f"a bad port: {r.stderr}")


def test_commands_the_api_cannot_serve_say_so(api):
    for args, said in ((["job", "delete", "j-x"], "shoal job delete does not work over the REST API"),
                       (["job", "prune", "--older-than", "1d"], "shoal job prune does not work"),
                       (["job", "wait", "j-x"], "shoal job wait does not work"),
                       (["wasm", "run", "--stdin", "/dev/null", wasm("args_env.wasm")],
                        "shoal wasm run --stdin does not work over the REST API")):
        r = run(api, *args, http=True)
        check(r.returncode == 125 and said in r.stderr and ("--api-host/--api-port" in r.stderr),
              f"shoal {' '.join(args)} over HTTP: {r.returncode} {r.stderr}")


def test_an_unreachable_endpoint_is_named(api):
    r = run(api, "job", "list", env={"SHOAL_API_PORT": "1"})
    check(r.returncode == 125 and "cannot reach the REST API at http://127.0.0.1:1" in r.stderr,
          f"unreachable: {r.stderr}")


if __name__ == "__main__":
    sys.exit(cases.run(globals(), fixture=ApiServer))
