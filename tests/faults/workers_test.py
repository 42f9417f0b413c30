#!/usr/bin/python3
"""Worker and broker faults outside the guest, with real signals: a worker killed mid-job
(SIGKILL), one that segfaults (SIGSEGV delivered to the process), one that
hangs (SIGSTOP: alive, silent). The job runs again as a new execution, at
most three times, then fails naming the cause; the pool returns to its size.
And workers never outlive their broker: a killed broker's workers are gone
before the next broker runs anything.
"""

import os
import shutil
import signal
import subprocess
import time

import harness
from harness import Session, check, wait_for
from chaos import expected

POOL = 2


def pool_restored(s):
    return harness.wait_for(f"{POOL} live workers", lambda: len(
        harness.worker_pids(s.broker.pid)) == POOL)


def test_a_segfaulting_worker_costs_an_execution_and_three_fail_the_job_naming_the_signal():
    with Session("shoal-faults-") as s:
        job = s.submit("chaos_job", [1, 600000])  # busy for ten minutes: only signals end it
        for attempt in (1, 2, 3):
            pid = s.wait_running(job, attempt)
            os.kill(pid, signal.SIGSEGV)
        j = s.wait_state(job, ["Failed"])
        check(len(j["executions"]) == 3, f"{len(j['executions'])} executions")
        for e in j["executions"]:
            check(e["state"] == "Failed", f"execution {e['id']} is {e['state']}")
            check(e["message"] == f"the worker running it ({e['worker']}) was killed by signal 11 "
                  "(Segmentation fault)", f"execution message {e['message']!r}")
        check(j["message"] == "gave up after 3 executions; the last: " +
              j["executions"][-1]["message"], f"job message {j['message']!r}")
        check(len({e["worker"] for e in j["executions"]}) == 3, "a dead worker was reused")
        pool_restored(s)
        # The pool serves: a job after the crashes completes.
        ok = s.submit("chaos_job", [5])
        check(s.wait_state(ok, ["Completed", "Failed"])["state"] == "Completed", "job after")


def test_a_hung_worker_is_killed_and_its_job_runs_again_to_the_same_result():
    with Session("shoal-faults-") as s:
        job = s.submit("chaos_job", [42, 1500])
        pid = s.wait_running(job, 1)
        os.kill(pid, signal.SIGSTOP)  # alive, holding its job, answering nothing
        j = s.wait_state(job, ["Completed", "Failed"])
        check(j["state"] == "Completed" and j["exit_code"] == 0, f"{j['state']} {j['message']}")
        first, second = j["executions"]
        check(first["message"] == f"the worker running it ({first['worker']}) stopped answering "
              "heartbeats for 3 s and was killed", f"first execution {first['message']!r}")
        check(first["ended"] <= second["started"], "executions overlap")
        check(not harness.alive(pid), f"the hung worker {pid} is still there")
        out, err, result = expected(42)
        kind, body, frames = s.call("output", {"id": job, "name": "outputs",
                                               "path": "result.txt"})
        check(kind == "ok" and frames[0] == result, f"result.txt {kind} {body}")
        s.client.send("logs", {"id": job})
        got = b""
        while True:
            kind, body, frames = s.client.recv()
            if kind != "log":
                break
            if body["stream"] == "stdout":
                got += frames[0]
        check(got == out, f"stdout {got!r}")
        pool_restored(s)


def test_a_killed_worker_mid_job_is_replaced_and_the_job_completes():
    with Session("shoal-faults-") as s:
        job = s.submit("chaos_job", [7, 1000])
        pid = s.wait_running(job, 1)
        os.kill(pid, signal.SIGKILL)
        j = s.wait_state(job, ["Completed", "Failed"])
        check(j["state"] == "Completed", f"{j['state']} {j['message']}")
        check(len(j["executions"]) == 2, f"{len(j['executions'])} executions")
        check("was killed by signal 9 (Killed)" in j["executions"][0]["message"],
              j["executions"][0]["message"])
        check(any("re-queued: the worker running it" in h["event"] for h in j["history"]),
              "no re-queue event in the history")
        pool_restored(s)


def test_a_stalled_broker_does_not_make_its_workers_drop_their_jobs():
    # Regression (found by tools/chaos with 10,000 jobs, where listing them
    # all held the broker's loop for seconds): workers took three seconds
    # without a heartbeat for the broker's death, cancelled their jobs and
    # quit, and every job running then was re-queued. A worker the broker
    # started learns of its death from the kernel, so it now waits.
    with Session("shoal-faults-") as s:
        job = s.submit("chaos_job", [12, 6000])
        s.wait_running(job, 1)
        workers = sorted(harness.worker_pids(s.broker.pid))
        os.kill(s.broker.pid, signal.SIGSTOP)  # the loop holds still, as in a long request
        # The fault is a silence longer than a worker's heartbeat allowance
        # (kHeartbeatMs * kHeartbeatLiveness = 3 s, protocol/worker_protocol.h),
        # held while the workers are watched: none may leave meanwhile.
        silent_until = time.monotonic() + 4.5
        while time.monotonic() < silent_until:
            gone = [p for p in workers if not harness.alive(p)]
            if gone:
                os.kill(s.broker.pid, signal.SIGCONT)
            check(not gone, f"workers {gone} left while the broker was stopped")
            time.sleep(0.1)
        os.kill(s.broker.pid, signal.SIGCONT)
        j = s.wait_state(job, ["Completed", "Failed"])
        check(j["state"] == "Completed", f"{j['state']} {j['message']}")
        check(len(j["executions"]) == 1, f"{len(j['executions'])} executions: "
              f"{[e['message'] for e in j['executions']]}")
        check(sorted(harness.worker_pids(s.broker.pid)) == workers, "the workers changed")


def test_a_job_longer_than_the_heartbeat_allowance_keeps_its_worker():
    # The worker's main thread runs the job; its watch thread must keep the
    # heartbeats going meanwhile, or the broker kills the worker after 3 s.
    with Session("shoal-faults-") as s:
        workers = sorted(harness.worker_pids(s.broker.pid))
        job = s.submit("chaos_job", [21, 5000])
        s.wait_running(job, 1)
        j = s.wait_state(job, ["Completed", "Failed"])
        check(j["state"] == "Completed", f"{j['state']} {j['message']}")
        check(len(j["executions"]) == 1, f"{len(j['executions'])} executions: "
              f"{[e['message'] for e in j['executions']]}")
        check(sorted(harness.worker_pids(s.broker.pid)) == workers, "the workers changed")


def test_workers_die_with_their_broker():
    home = harness.temp_home("shoal-faults-")
    b = harness.Broker(home, workers=POOL)
    b.start()
    check(b.wait_ready(), "broker did not start")
    workers = b.wait_workers(POOL)
    c = harness.connect(b.endpoint)
    kind, body, _ = c.call("submit", {"module": "chaos_job.wasm", "args": ["3", "600000"]},
                           harness.wasm("chaos_job"))
    c.close()
    check(kind == "ok", f"submit {kind} {body}")
    b.kill()
    # PR_SET_PDEATHSIG: the kernel kills them; nobody else is left to.
    wait_for("the workers of the killed broker to die",
             lambda: not any(harness.alive(p) for p in workers), timeout=30)
    b.start()
    check(b.wait_ready(), "second broker did not start")
    b.shutdown()
    shutil.rmtree(home, ignore_errors=True)


def test_a_worker_left_by_an_earlier_broker_is_killed_before_anything_is_requeued():
    # Regression: a worker that outlived its broker (an older shoal, or one
    # whose parent-death signal never came) ran its job on while the next
    # broker re-queued it: two live executions. The next broker now takes the
    # workers' fence lock first, killing whoever holds it.
    home = harness.temp_home("shoal-faults-")
    os.makedirs(home + "/run", mode=0o700)
    worker = os.path.join(os.path.dirname(harness.SHOAL), "shoal-worker")
    stray = subprocess.Popen([worker, "serve", "--endpoint", "ipc://" + home + "/run/gone.sock",
                              "--name", "stray", "--fence", home + "/run/workers.lock"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for("the stray worker to hold the fence", lambda: harness.holds_posix_lock(stray.pid))
    os.kill(stray.pid, signal.SIGSTOP)  # it can neither finish nor leave on its own
    b = harness.Broker(home, workers=POOL)
    b.start()
    try:
        check(b.wait_ready(), "broker did not start")
        check(stray.poll() == -signal.SIGKILL or stray.wait(timeout=10) == -signal.SIGKILL,
              f"the stray worker ended with {stray.returncode}")
        with open(home + "/broker.log") as f:
            text = f.read()
        check("killed 1 workers left by the previous broker" in text, "no warning in the log")
    finally:
        if stray.poll() is None:
            stray.kill()
        b.shutdown()
    shutil.rmtree(home, ignore_errors=True)


def test_url_inputs_of_jobs_recovered_after_a_broker_crash_are_staged_again():
    # Regression: where a job's URL inputs were staged lived only in the
    # broker's memory, so a job re-queued (or still queued) after a broker
    # restart was mounted from an empty path and failed "mount  at ...: No
    # such file or directory".
    import http.server
    import socketserver
    import threading
    body = b"over http\n" * 10

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/data.txt"
    home = harness.temp_home("shoal-faults-")
    b = harness.Broker(home, workers=1)
    b.start()
    try:
        check(b.wait_ready(), "broker did not start")
        c = harness.connect(b.endpoint)
        jobs = []
        for k in range(3):  # one runs, two wait in the queue
            kind, reply, _ = c.call("submit", {
                "module": "chaos_job.wasm", "args": [str(k), "2000", "/in/data.txt"],
                "inputs": [{"source": url, "target": "/in/data.txt"}]}, harness.wasm("chaos_job"))
            check(kind == "ok", f"submit {kind} {reply}")
            jobs.append(reply["id"])
        wait_for("the first job to run", lambda: c.call("get", {"id": jobs[0]})[1]["state"] ==
                 "Running")
        c.close()
        b.kill()
        b.start()
        check(b.wait_ready(), "second broker did not start")
        s = harness.connect(b.endpoint)
        for k, job in enumerate(jobs):
            j = wait_for(f"job {job} to end", lambda: (lambda j: j if j["state"] in (
                "Completed", "Failed") else None)(s.call("get", {"id": job})[1]), timeout=120)
            check(j["state"] == "Completed", f"job {k}: {j['state']} {j['message']}")
            s.send("logs", {"id": job, "stream": "stdout"})
            out = b""
            while True:
                kind, _, frames = s.recv()
                if kind != "log":
                    break
                out += frames[0]
            check(out == expected(k, body)[0], f"job {k} stdout {out!r}")
        s.close()
    finally:
        b.shutdown()
        server.shutdown()
    shutil.rmtree(home, ignore_errors=True)


def test_url_fetch_threads_are_joined_once_done():
    # Regression (found by tools/soak, as a broker heap that kept growing):
    # each URL input was fetched on a thread that was joined only when the
    # broker stopped, so every URL job left a finished thread and its stack.
    import http.server
    import socketserver
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"hi\n")

        def log_message(self, *args):
            pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        with Session("shoal-faults-") as s:
            def threads():
                # A finished, unjoined thread is gone from /proc/PID/task
                # but keeps its 8 MiB stack mapped: count address space.
                return harness.rss_kib(s.broker.pid, "VmSize")
            jobs = [s.submit("chaos_job", [k, 0, "/in/x"], inputs=[
                {"source": f"http://127.0.0.1:{port}/x?{k}", "target": "/in/x"}])
                for k in range(40)]
            for job in jobs:
                ended = s.wait_state(job, ["Completed", "Failed"])
                check(ended["state"] == "Completed", f"{job}: {ended.get('message')}")
            after_first = threads()
            jobs = [s.submit("chaos_job", [k, 0, "/in/x"], inputs=[
                {"source": f"http://127.0.0.1:{port}/x?{k}", "target": "/in/x"}])
                for k in range(40, 80)]
            for job in jobs:
                ended = s.wait_state(job, ["Completed", "Failed"])
                check(ended["state"] == "Completed", f"{job}: {ended.get('message')}")
            # The loop joins finished fetchers as it goes round; give it a turn.
            s.call("ping")
            after_second = threads()
            # Leaking, 40 jobs add 40 stacks of 8 MiB (320 MiB); joined, the
            # stacks are reused (a new malloc arena may add 64 MiB).
            check(after_second - after_first < 160 * 1024,
                  f"broker address space {after_first} KiB after 40 URL jobs, "
                  f"{after_second} KiB after 40 more")
    finally:
        server.shutdown()


def test_a_workers_scratch_is_emptied_between_jobs_and_removed_when_it_dies():
    # A local worker keeps one scratch directory (scratch/NAME, out/outputs
    # in it) for its life; the broker empties it after each execution. So no
    # file of one job may show up among the next job's outputs, even when
    # the worker running it was killed mid-write, and a dead worker's
    # directory goes with it.
    import glob

    def files_of(j):
        return sorted(f["path"] for f in j["output_files"])

    with Session("shoal-faults-", workers=1) as s:
        first = s.submit("flood_files", ["files", "/outputs", 3])
        j = s.wait_state(first, ["Completed", "Failed"])
        check(j["state"] == "Completed", f"first job {j['state']}: {j['message']}")
        check(files_of(j) == ["f000000", "f000001", "f000002"], f"first job's files {files_of(j)}")
        second = s.submit("chaos_job", [3])
        j = s.wait_state(second, ["Completed", "Failed"])
        check(files_of(j) == ["result.txt"], f"second job's files {files_of(j)}")

        held = s.submit("flood_files", ["hold", "/outputs/held.bin", 1])
        pid = s.wait_running(held, 1)
        scratch = os.path.join(s.home, "scratch")
        wait_for("the held file", lambda: glob.glob(os.path.join(scratch, "*", "out", "outputs",
                                                                 "held.bin")))
        os.kill(pid, signal.SIGKILL)
        s.wait_running(held, 2)
        kind, body, _ = s.call("stop", {"id": held})
        check(kind == "ok", f"stop answered {kind} {body}")
        s.wait_state(held, ["Stopped"])
        wait_for("the pool restored to one live worker",
                 lambda: len(harness.worker_pids(s.broker.pid)) == 1)
        dead = [e["worker"] for e in s.job(held)["executions"]][0]
        check(not os.path.exists(os.path.join(scratch, dead)),
              f"the killed worker's scratch directory is still there: {os.listdir(scratch)}")

        last = s.submit("chaos_job", [4])
        j = s.wait_state(last, ["Completed", "Failed"])
        check(j["state"] == "Completed", f"last job {j['state']}: {j['message']}")
        check(files_of(j) == ["result.txt"], f"last job's files {files_of(j)}")
        leftovers = glob.glob(os.path.join(scratch, "*", "out", "outputs", "*"))
        check(leftovers == [], f"files left in scratch after the jobs ended: {leftovers}")

        # The broker's own files of a run (stdin, an extra output directory)
        # go after it, and a run that wrote nothing leaves nothing behind
        # (the broker then skips looking: broker/scratch.cpp).
        j = s.wait_state(s.submit("exit_code", [0], outputs=[{"name": "more", "path": "/more"}]),
                         ["Completed", "Failed"])
        check(j["state"] == "Completed", f"job with an output of its own: {j}")
        kind, body, _ = s.call("submit", {"module": "stdin_echo.wasm"},
                               harness.wasm("stdin_echo"), b"echo me\n")
        check(kind == "ok", f"submit with stdin answered {kind} {body}")
        j = s.wait_state(body["id"], ["Completed", "Failed"])
        check(j["state"] == "Completed", f"stdin job {j['state']}: {j['message']}")
        for k in range(3):
            j = s.wait_state(s.submit("exit_code", [k]), ["Completed", "Failed"])
            check(j["state"] == "Completed" and files_of(j) == [], f"job {k}: {j}")
        [mine] = os.listdir(scratch)
        tree = sorted(os.path.relpath(os.path.join(d, f), os.path.join(scratch, mine))
                      for d, dirs, files in os.walk(os.path.join(scratch, mine))
                      for f in dirs + files)
        check(tree == ["out", os.path.join("out", "outputs")], f"the worker's scratch: {tree}")


def test_a_module_the_worker_no_longer_keeps_is_asked_for_and_sent_again():
    # The broker sends a module's bytes to a local worker once and names it
    # by hash after that; a worker that has dropped it for room (here 300 kB
    # of --module-memory: chaos_job and args_env do not fit together) asks
    # for it with `need`, and the run goes on.
    with Session("shoal-faults-", workers=1, extra=["--module-memory", "300000"]) as s:
        for module, args in (("chaos_job", [5]), ("args_env", ["x"]), ("chaos_job", [6])):
            job = s.submit(module, args)
            j = s.wait_state(job, ["Completed", "Failed"], timeout=30)
            check(j["state"] == "Completed", f"{module} {args}: {j['state']}: {j['message']}")
        # "job 6" and 6 % 7 + 1 lines of eight hex digits: the module ran.
        printed = s.job(job)["executions"][0]["stdout_bytes"]
        check(printed == 6 + 7 * 9, f"the last run printed {printed} bytes")


if __name__ == "__main__":
    harness.run_cases(globals())
