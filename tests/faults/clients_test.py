#!/usr/bin/python3
"""Clients that misbehave: gone right after submitting, gone halfway through
a ZMTP frame, killed while following, never reading their replies; and 200
at once. Meanwhile a well-behaved client's jobs complete with the right
bytes, and afterwards the broker still answers everyone.
"""

import json
import os
import signal
import socket
import struct
import subprocess
import time

import zmq

import harness
from harness import Session, check, wait_for
from chaos import expected


def completes(s, k):
    """A well-behaved job: submitted, Completed, with job K's exact stdout."""
    job = s.submit("chaos_job", [k])
    j = s.wait_state(job, ["Completed", "Failed", "Stopped"])
    check(j["state"] == "Completed" and j["exit_code"] == 0, f"job {job}: {j['state']}")
    s.client.send("logs", {"id": job, "stream": "stdout"})
    out = b""
    while True:
        kind, body, frames = s.client.recv()
        if kind != "log":
            check(kind == "end", f"logs {kind} {body}")
            break
        out += frames[0]
    check(out == expected(k)[0], f"job {job} stdout {out!r}")


def zmtp_greeting():
    # ZMTP 3.0: signature, version 3.0, mechanism NULL, as-server 0, filler.
    return (b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\0") + b"\0" +
            b"\0" * 31)


def zmtp_ready(socket_type=b"DEALER"):
    body = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", len(socket_type)) + socket_type
    return b"\x04" + bytes([len(body)]) + body


def raw_connect(s):
    r = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    r.connect(s.home + "/run/broker.sock")
    return r


def test_clients_that_vanish_right_after_submitting_leave_the_broker_serving():
    with Session("shoal-clients-") as s:
        module = harness.wasm("chaos_job")
        for k in range(50):
            d = zmq.Context.instance().socket(zmq.DEALER)
            d.setsockopt(zmq.LINGER, 2000)  # the request leaves; the reply finds nobody
            d.connect(s.broker.endpoint)
            d.send_multipart([b"shoal/1", b"submit",
                              b'{"module":"chaos_job.wasm","args":["%d"],"labels":{"vanish":"1"}}'
                              % k, module])
            d.close()
        # Each request reached the broker before its socket closed; the
        # jobs run to their end anyway.
        def all_ended():
            kind, body, _ = s.call("list", {"labels": {"vanish": "1"}, "limit": 0})
            jobs = body["jobs"]
            return jobs if len(jobs) == 50 and all(j["state"] == "Completed" for j in jobs) else None
        jobs = wait_for("50 jobs of vanished clients to complete", all_ended)
        check(sorted(int(j["spec"]["args"][0]) for j in jobs) == list(range(50)), "keys")
        completes(s, 1)


def test_a_raw_client_gone_halfway_through_a_frame_is_dropped_and_nothing_is_submitted():
    with Session("shoal-clients-") as s:
        # Half a greeting, then gone.
        r = raw_connect(s)
        r.sendall(zmtp_greeting()[:11])
        r.close()
        # A full handshake, then the first frames of a submit and half of a
        # declared 1 MB module frame, then gone. ZeroMQ delivers a message
        # whole or not at all: the broker never sees it.
        r = raw_connect(s)
        r.sendall(zmtp_greeting())
        r.recv(64)
        r.sendall(zmtp_ready())
        r.sendall(b"\x01\x07shoal/1" + b"\x01\x06submit" + b"\x01\x02{}" +
                  b"\x02" + struct.pack(">Q", 1 << 20) + b"\0asm" + b"\x01" * 5000)
        r.close()
        # One that stops in the middle of a frame and stays connected.
        stalled = raw_connect(s)
        stalled.sendall(zmtp_greeting())
        stalled.recv(64)
        stalled.sendall(zmtp_ready() + b"\x01\x07shoal/1\x00\x10sub")
        try:
            completes(s, 2)
            kind, body, _ = s.call("list", {"limit": 0})
            check(len(body["jobs"]) == 1, f"{len(body['jobs'])} jobs; expected only the good one")
        finally:
            stalled.close()
        completes(s, 3)


def test_a_follower_killed_mid_follow_costs_nothing():
    with Session("shoal-clients-") as s:
        job = s.submit("chaos_job", [9, 3000])
        env = dict(os.environ, SHOAL_HOME=s.home)
        followers = [subprocess.Popen([harness.SHOAL, "job", "logs", "--follow", job], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                     for _ in range(5)]
        s.wait_running(job, 1)
        for f in followers:
            f.send_signal(signal.SIGKILL)
            f.wait()
        j = s.wait_state(job, ["Completed", "Failed"])
        check(j["state"] == "Completed", f"{j['state']} {j['message']}")
        # A new follower of the finished job gets it whole.
        out = subprocess.run([harness.SHOAL, "job", "logs", "--follow", job], env=env,
                             capture_output=True, timeout=60)
        check(out.stdout == expected(9)[0],
              f"logs after: {out.stdout!r}")
        completes(s, 4)


def test_a_client_that_never_reads_does_not_stall_or_bloat_the_broker():
    with Session("shoal-clients-") as s:
        pid = s.broker.pid
        before = harness.anon_kib(pid)
        # Three sockets each follow a job that writes 64 MiB (the stdout cap)
        # and read nothing until everything is over.
        spewers = [s.submit("spew", [64 << 20]) for _ in range(3)]
        lazy = []
        for job in spewers:
            d = zmq.Context.instance().socket(zmq.DEALER)
            d.setsockopt(zmq.RCVHWM, 1)
            d.setsockopt(zmq.RCVBUF, 4096)
            d.setsockopt(zmq.LINGER, 0)
            d.connect(s.broker.endpoint)
            d.send_multipart([b"shoal/1", b"logs", b'{"id":"%s","follow":true}' % job.encode()])
            lazy.append(d)
        peak = before
        # Meanwhile the others are served.
        for k in range(10, 16):
            completes(s, k)
            peak = max(peak, harness.anon_kib(pid))
        for job in spewers:
            j = s.wait_state(job, ["Completed", "Failed"], timeout=300)
            check(j["state"] == "Completed", f"spew {job}: {j['state']} {j['message']}")
            peak = max(peak, harness.anon_kib(pid))
        completes(s, 20)
        # Late readers get what was kept, in order, then their end, which
        # counts what was dropped: nothing is silently missing.
        for job, d in zip(spewers, lazy):
            got = 0
            while True:
                parts = d.recv_multipart()
                body = json.loads(parts[2])
                if parts[1] == b"log":
                    if body["stream"] == "stdout":
                        check(set(parts[3]) <= {ord("x")}, "log bytes")
                        got += len(parts[3])
                    continue
                check(parts[1] == b"end", f"{parts[1]} {body}")
                break
            dropped = body.get("logs_dropped", 0)
            check(got + dropped >= 64 << 20, f"{job}: {got} bytes kept + {dropped} dropped")
            check(got > 0, "nothing was kept")
            d.close()
        after = harness.anon_kib(pid)
        harness.log(f"broker heap (RssAnon): {before} KiB before, peak {peak} KiB with three "
                    f"clients not reading 3 x 64 MiB of logs, {after} KiB after they read")
        # Per client at most 1000 queued chunks of <= 64 KiB plus a 160 MiB backlog.
        check(peak - before < 3 * 230 * 1024, f"the broker grew by {(peak - before) // 1024} MiB")


def test_logs_with_more_chunks_than_the_client_queue_arrive_whole_and_end():
    # Regression: `logs` queued every stored chunk at once, and the ZeroMQ
    # queue (then 10,000 messages) dropped the rest, the `end` included: a
    # reader of a job with many small writes lost bytes and waited forever.
    # A worker gathers consecutive writes to one stream into one chunk, so
    # the job alternates stdout and stderr: every write is a chunk.
    with Session("shoal-clients-") as s:
        pairs = 8000
        kind, body, _ = s.call("submit", {"module": "interleave.wasm", "args": [str(pairs)]},
                               harness.wasm("interleave"))
        job = body["id"]
        check(s.wait_state(job, ["Completed", "Failed"])["state"] == "Completed", "job")
        s.client.send("logs", {"id": job})
        got, chunks = {"stdout": [], "stderr": []}, 0
        while True:
            kind, body, frames = s.client.recv(timeout=60)
            if kind != "log":
                check(kind == "end", f"{kind} {body}")
                break
            got[body["stream"]].append(frames[0])
            chunks += 1
            if chunks % 500 == 0:
                time.sleep(0.01)  # a reader a little slower than the broker
        for stream, tag in (("stdout", "out"), ("stderr", "err")):
            want = "".join(f"{tag} {i}\n" for i in range(pairs)).encode()
            have = b"".join(got[stream])
            check(have == want, f"{stream}: {len(have)} of {len(want)} bytes")
        check("logs_dropped" not in body, f"dropped {body.get('logs_dropped')}")
        check(chunks > 10000, f"only {chunks} chunks: the test needs more than the old queue")


def test_two_hundred_concurrent_clients_each_get_their_own_answers():
    with Session("shoal-clients-") as s:
        module = harness.wasm("chaos_job")
        clients = [harness.Client(s.broker.endpoint) for _ in range(200)]
        for k, c in enumerate(clients):
            c.send("submit", {"module": "chaos_job.wasm", "args": [str(100 + k)]}, module)
        ids = []
        for k, c in enumerate(clients):
            kind, body, _ = c.recv(timeout=120)
            check(kind == "ok", f"client {k}: {kind} {body}")
            ids.append(body["id"])
        for job, c in zip(ids, clients):
            c.send("watch", {"id": job})
        # A separate, ordinary client is served meanwhile.
        completes(s, 5)
        for k, (job, c) in enumerate(zip(ids, clients)):
            while True:
                kind, body, _ = c.recv(timeout=300)
                check(kind in ("state", "end"), f"client {k}: {kind} {body}")
                check(body["id"] == job, f"client {k} got job {body['id']}, not {job}")
                if kind == "end":
                    break
            check(body["state"] == "Completed" and body["exit_code"] == 0, f"{job}: {body['state']}")
            c.close()


def test_a_module_named_by_its_sha256_runs_without_its_bytes_again():
    # A client submitting one module many times sends its bytes once, then
    # names it by module_sha256 with an empty module frame.
    with Session("shoal-faults-") as s:
        first = s.submit("chaos_job", [2])
        s.wait_state(first, ["Completed"])
        sha = s.job(first)["spec"]["module_sha256"]
        check(len(sha) == 64, f"module_sha256 {sha!r}")
        kind, body, _ = s.call("submit", {"module": "chaos_job.wasm", "args": ["7"],
                                          "module_sha256": sha}, b"")
        check(kind == "ok", f"submit by sha256 answered {kind} {body}")
        j = s.wait_state(body["id"], ["Completed", "Failed"])
        check(j["state"] == "Completed", f"job by sha256: {j['state']}: {j['message']}")
        # "job 7" and 7 % 7 + 1 = 1 line of eight hex digits.
        printed = j["executions"][-1]["stdout_bytes"]
        check(printed == 6 + 9, f"the job by sha256 printed {printed} bytes")

        kind, body, _ = s.call("submit", {"module_sha256": "0" * 64})
        check(kind == "error" and body["error"] == "invalid job: no module with module_sha256 " +
              "0" * 64 + " is stored; send the module's bytes (the frame after the JSON body)",
              f"an unknown sha256 answered {kind} {body}")
        kind, body, _ = s.call("submit", {"module_sha256": sha}, harness.wasm("args_env"))
        check(kind == "error" and body["error"].startswith(
            f"invalid job: module_sha256 {sha} does not match the module's bytes (their "
            "SHA-256 is "), f"a wrong sha256 answered {kind} {body}")



def test_submit_many_sends_the_module_once_and_every_job_runs_it():
    # examples/python_client.py's submit_many: the first submission carries
    # the module's bytes, the others an empty module frame and its SHA-256;
    # each job still runs with its own arguments.
    with Session("shoal-clients-") as s:
        module = harness.wasm("chaos_job")
        c = harness.python_client.Client(endpoint=s.broker.endpoint, reconnect=False,
                                         timeout_s=60)
        sent = []  # the module frame's size, per submission
        send_frames = c.send_frames

        def recording(frames, timeout_s=60):
            if frames[1] == b"submit":
                sent.append(len(frames[3]) if len(frames) > 3 else None)
            return send_frames(frames, timeout_s)

        c.send_frames = recording
        ks = range(1, 7)
        ids = c.submit_many([{"module": "chaos_job.wasm", "args": [str(k)]} for k in ks], module)
        c.close()
        check(sent == [len(module)] + [0] * (len(ks) - 1),
              f"module frames sent: {sent} (the module is {len(module)} bytes)")
        check(len(set(ids)) == len(ks), f"ids {ids}")
        for k, job in zip(ks, ids):
            j = s.wait_state(job, ["Completed", "Failed", "Stopped"])
            check(j["state"] == "Completed", f"job {k} ({job}): {j['state']}: {j['message']}")
            printed = j["executions"][-1]["stdout_bytes"]
            check(printed == len(expected(k)[0]), f"job {k} printed {printed} bytes")



def test_a_stream_left_midway_never_answers_the_python_clients_next_call():
    # examples/python_client.py: follow_logs left by an exception (here the
    # output's write; a KeyboardInterrupt alike) drops its socket, and a
    # stream's message where a reply should be is an error, not the reply.
    with Session("shoal-clients-") as s:
        job = s.submit("ticker", ["2000", "10"])
        s.wait_state(job, ["Running"])
        c = harness.python_client.Client(endpoint=s.broker.endpoint, timeout_s=60)

        class Full:
            def write(self, data):
                raise OSError("no space left")

        try:
            c.follow_logs(job, Full())
            check(False, "follow_logs did not pass on the write's error")
        except OSError:
            pass
        time.sleep(0.3)  # the job ticks on meanwhile
        got, _ = c.call("get", {"id": job})
        check(got.get("id") == job and got.get("state") == "Running", f"get after: {got}")

        c.send("logs", {"id": job, "follow": True})  # a stream nobody reads
        time.sleep(0.3)
        try:
            answer = c.call("nodes")
            check(False, f"a log line was taken for the nodes reply: {answer}")
        except harness.python_client.ShoalError as e:
            check("'log' message came instead of the reply" in str(e), f"said: {e}")
        nodes, _ = c.call("nodes")
        check(nodes.get("nodes") and "slots" in nodes["nodes"][0], f"nodes after: {nodes}")
        c.close()
        s.call("stop", {"id": job})



def test_ctrl_c_during_wasm_run_says_the_job_goes_on_and_a_second_one_stops_it():
    with Session("shoal-faults-") as s:
        env = dict(os.environ, SHOAL_HOME=s.broker.home)
        spin = os.path.join(harness.WASM_DIR, "spin.wasm")
        seen = set()
        for presses in (1, 2):
            p = subprocess.Popen([harness.SHOAL, "wasm", "run", spin], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            job = wait_for("the job to run", lambda: next(
                (j["id"] for j in s.call("list", {"limit": 0})[1]["jobs"]
                 if j["state"] == "Running" and j["id"] not in seen), None))
            seen.add(job)
            for _ in range(presses):
                p.send_signal(signal.SIGINT)
                time.sleep(0.2)  # two signals at once would be one
            out, err = p.communicate(timeout=60)
            check(p.returncode == 130, f"{presses} Ctrl-C: exit {p.returncode}: {err!r}")
            check(f"shoal: job {job} goes on without this command: follow it with shoal job logs "
                  f"-f {job}, stop it with shoal job stop {job}" in err, f"stderr {err!r}")
            if presses == 1:
                check(s.job(job)["state"] == "Running", "one Ctrl-C stopped the job")
                s.call("stop", {"id": job})
            else:
                check(f"shoal: the broker was asked to stop job {job}" in err, f"stderr {err!r}")
            check(s.wait_state(job, ["Stopped", "Completed", "Failed"])["state"] == "Stopped",
                  "the job did not end Stopped")


def test_a_submission_that_watches_gets_its_ok_then_only_its_end():
    # "watch": true in submit: no separate watch request, no state messages.
    with Session("shoal-clients-") as s:
        c = harness.Client(s.broker.endpoint)
        module = harness.wasm("exit_code")
        for k in range(20):
            c.send("submit", {"module": "exit_code.wasm", "args": [str(k)], "watch": True},
                   module)
        acked, ended = [], {}
        while len(ended) < 20:
            kind, body, _ = c.recv(timeout=120)
            check(kind in ("ok", "end"), f"{kind} {body}")
            if kind == "ok":
                acked.append(body["id"])
            else:
                check(body["id"] in acked, f"the end of {body['id']} came before its ok")
                ended[body["id"]] = body
        check(len(acked) == 20, f"{len(acked)} oks")
        for k, job in enumerate(acked):  # one end each, with the job's own exit code
            check(ended[job]["state"] == "Completed" and ended[job]["exit_code"] == k,
                  f"{job}: {ended[job]['state']} {ended[job].get('exit_code')}")
        check(not c.sock.poll(300), "a reply after the last end")

        # watch with "states": false on a job that runs a while: only the end.
        slow = s.submit("ticker", [10, 100])
        s.wait_state(slow, ["Running"])
        c.send("watch", {"id": slow, "states": False})
        kind, body, _ = c.recv(timeout=120)
        check(kind == "end" and body["id"] == slow and body["state"] == "Completed",
              f"watch without states sent {kind} {body}")

        kind, body, _ = c.call("submit", {"module": "exit_code.wasm", "watch": "yes"}, module)
        check(kind == "error" and body["error"] == "invalid job: watch must be true or false",
              f"a bad watch answered {kind} {body}")
        c.close()

if __name__ == "__main__":
    harness.run_cases(globals())
