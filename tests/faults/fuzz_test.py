#!/usr/bin/python3
"""Hostile input on the client socket for a bounded time: seeded random
multipart messages (wrong versions, unknown commands, malformed and huge
bodies, empty frames, hundreds of frames, random module bytes) from several
sockets, and raw connections that send random bytes instead of ZMTP. Every
ZeroMQ request must get exactly one reply, `error` or `ok`, in shoal/1 with
a JSON body (an error's names its cause). Afterwards a normal job completes
and the broker's RSS and open fds are back near where they started.

    fuzz_test.py [--seconds 20] [--seed N]
"""

import argparse
import json
import os
import random
import socket
import time

import harness
from harness import Session, check, log

COMMANDS = ["ping", "submit", "get", "list", "logs", "watch", "stop", "delete", "prune",
            "output"]  # never shutdown


def random_bytes(rng, n):
    return rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""


def random_json(rng, depth=0):
    r = rng.random()
    if depth > 3 or r < 0.3:
        return rng.choice([None, True, False, rng.randint(-2**63, 2**64), rng.random() * 1e300,
                           "", "j-", "x" * rng.randint(0, 300),
                           random_bytes(rng, 20).decode("latin-1")])
    if r < 0.6:
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    keys = ["id", "follow", "stream", "limit", "labels", "args", "env", "inputs", "outputs",
            "timeout_s", "memory", "entry_point", "module", "name", "older_than_s", "path",
            "logs", "reversed", "id_prefix", "watch", "states", "from_now", "array", "bogus"]
    return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randint(0, 6))}


def message(rng, huge):
    """One hostile request (a list of frames) and what it is, for the log."""
    kind = rng.randrange(10)
    version = b"shoal/1"
    if kind == 0:
        return [random_bytes(rng, rng.randint(0, 64)) for _ in range(rng.randint(1, 6))], "random"
    if kind == 1:
        version = rng.choice([b"shoal/2", b"shoal/", b"", b"SHOAL/1", b"shoal/1\0",
                              b"shoal/10", random_bytes(rng, 8)])
        return [version, b"ping", b"{}"], "version"
    if kind == 2:
        return [version] + [b""] * rng.randint(0, 4), "empty frames"
    if kind == 3:
        return [version, rng.choice(COMMANDS).encode()] + [b"x"] * rng.randint(100, 1000), \
            "many frames"
    if kind == 4:
        body = random_bytes(rng, rng.randint(0, 2000))
        return [version, rng.choice(COMMANDS).encode(), body], "random body"
    if kind == 5:
        text = json.dumps(random_json(rng)).encode()
        if rng.random() < 0.3:
            text = text[:rng.randint(0, len(text))]
        return [version, rng.choice(COMMANDS).encode(), text], "json body"
    if kind == 6:
        return [version, random_bytes(rng, rng.randint(1, 30)), b"{}"], "unknown command"
    if kind == 7:
        spec = random_json(rng) if rng.random() < 0.5 else {}
        if not isinstance(spec, dict):
            spec = {}
        spec["labels"] = {"fuzz": "1"}
        module = rng.choice([b"", b"\0asm", b"\0asm\x01\0\0\0" + random_bytes(rng, 200),
                             random_bytes(rng, 100)])
        return [version, b"submit", json.dumps(spec).encode(), module], "submit"
    if kind == 8:
        depth = rng.randint(1, 100000)
        body = b"[" * depth + (b"]" * depth if rng.random() < 0.5 else b"")
        return [version, rng.choice(COMMANDS).encode(), body], "deep nesting"
    size = rng.choice([1 << 20, 10 << 20]) if not huge else 100 << 20
    frame = rng.choice([b"{" + b" " * (size - 1), random_bytes(rng, 1024) * (size // 1024)])
    return [version, rng.choice([b"ping", b"submit", b"list"]), frame], f"huge body {size >> 20} MB"


def raw_garbage(s, rng):
    """A stream connection that sends random bytes instead of ZMTP."""
    r = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    r.settimeout(5)
    try:
        r.connect(s.home + "/run/broker.sock")
        r.sendall(random_bytes(rng, rng.randint(1, 5000)))
        try:
            r.recv(100)
        except OSError:
            pass
    except OSError:
        pass  # the broker may hang up first
    finally:
        r.close()


# Requests that once broke the broker, each with the exact reply expected.
REGRESSIONS = [
    # A version or command that is not UTF-8 was quoted in the error reply,
    # and serialising that reply threw: the broker aborted.
    ([b"\xb0\x12w", b"ping", b"{}"],
     "unsupported protocol '\ufffd\x12w' (this broker speaks shoal/1)"),
    ([b"shoal/1", b"\xff\xfe", b"{}"], "unknown command '\ufffd\ufffd'"),
    # A command cut at 40 bytes in the middle of a UTF-8 sequence.
    ([b"shoal/1", ("a" + "é" * 30).encode(), b"{}"],
     "unknown command 'a" + "é" * 19 + "\ufffd'"),
    ([b"shoal/1", b"\xff", b"[1"], "malformed request: the body of '\ufffd' is not a JSON "
     "object"),
]


def regressions(s):
    for frames, want in REGRESSIONS:
        s.client.sock.send_multipart(frames)
        kind, body, _ = s.client.recv(timeout=30)
        check(kind == "error" and body["error"] == want,
              f"{frames[:2]}: {kind} {body}, expected error {want!r}")


def switches(s, job):
    """A switch of a body that is not true or false is refused by its name;
    logs from_now of a finished job is its end alone."""
    for command, body, field, value in (("get", {"array": "yes"}, "array", '"yes"'),
                                        ("logs", {"follow": 1}, "follow", "1"),
                                        ("logs", {"from_now": None}, "from_now", "null"),
                                        ("watch", {"logs": [True]}, "logs", "[true]"),
                                        ("list", {"reversed": "no"}, "reversed", '"no"')):
        kind, reply, _ = s.client.request(command, dict(body, id=job))
        want = f"malformed request: {field} must be true or false, not {value}"
        check(kind == "error" and reply["error"] == want,
              f"{command} {body}: {kind} {reply}, expected error {want!r}")
    kind, reply, _ = s.client.request("logs", {"id": job, "follow": True, "from_now": True})
    check(kind == "end" and reply["id"] == job and not s.client.sock.poll(200),
          f"logs from_now of a finished job: {kind} {reply}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--sockets", type=int, default=4)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 32)
    log(f"fuzz: seed {seed} (replay with --seed {seed}), {a.seconds} s")
    rng = random.Random(seed)
    counts = {}
    with Session("shoal-fuzz-") as s:
        pid = s.broker.pid
        first = s.submit("chaos_job", [1])  # so that the store is not empty
        s.wait_state(first, ["Completed", "Failed"])
        rss0, fds0 = harness.rss_kib(pid), harness.fd_count(pid)
        regressions(s)
        switches(s, first)
        socks = [harness.Client(s.broker.endpoint) for _ in range(a.sockets)]
        deadline = time.monotonic() + a.seconds
        huge_sent = 0
        n = 0
        what, frames = "", []
        try:
            while time.monotonic() < deadline:
                if rng.random() < 0.05:
                    raw_garbage(s, rng)
                    counts["raw garbage"] = counts.get("raw garbage", 0) + 1
                    continue
                c = rng.choice(socks)
                huge = huge_sent < 3 and rng.random() < 0.01
                frames, what = message(rng, huge)
                huge_sent += huge
                counts[what.split(" ")[0]] = counts.get(what.split(" ")[0], 0) + 1
                c.send_frames(frames)
                n += 1
                # One final reply (ok, error, or end after a stream when the
                # request happened to name a real job).
                streaming = frames[0] == b"shoal/1" and frames[1:2] in ([b"logs"], [b"watch"])
                while True:
                    kind, body, extra = c.recv(timeout=120)
                    if streaming and kind in ("log", "state", "progress"):
                        continue
                    break
                check(kind in ("ok", "error") or (streaming and kind == "end"),
                      f"{what}: reply {kind} {body}")
                if kind == "error":
                    check(isinstance(body.get("error"), str) and body["error"],
                          f"{what}: error body {body}")
                check(not c.sock.poll(0), f"{what}: more than one reply")
        except (harness.TestFailure, harness.Disconnected, TimeoutError) as e:
            status = s.broker.proc.poll()
            raise harness.TestFailure(
                f"{e} after request {n} ({what}: {[f[:60] for f in frames][:6]}); broker exit "
                f"status {status} (seed {seed})")
        finally:
            for c in socks:
                c.close()
        check(s.broker.proc.poll() is None, "the broker died")
        # Throw away what the fuzz submitted, then a normal job.
        s.call("prune", {"older_than_s": 0})
        job = s.submit("chaos_job", [77])
        j = s.wait_state(job, ["Completed", "Failed"])
        check(j["state"] == "Completed", f"job after the fuzz: {j['state']} {j['message']}")
        # The fuzz's connections are closed; the broker lets go of them
        # (checked below, with the counts, when it does not within 10 s).
        settle = time.monotonic() + 10
        while harness.fd_count(pid) > fds0 + 4 and time.monotonic() < settle:
            time.sleep(0.05)
        rss1, fds1 = harness.rss_kib(pid), harness.fd_count(pid)
        log(f"fuzz: {n} requests + {counts.get('raw garbage', 0)} raw connections in "
            f"{a.seconds} s ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}), "
            f"{huge_sent} of 100 MB; broker RSS {rss0} -> {rss1} KiB, fds {fds0} -> {fds1}")
        check(fds1 <= fds0 + 4, f"open fds grew from {fds0} to {fds1}")
        check(rss1 < rss0 + 256 * 1024, f"RSS grew from {rss0} to {rss1} KiB")


if __name__ == "__main__":
    harness.run_main(main)
