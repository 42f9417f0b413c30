#!/usr/bin/python3
"""A shoal client in Python, speaking only the documented protocol
(docs/protocol.md) over ZeroMQ with Debian's python3-zmq.

    python_client.py [--jobs N] [--expect-exit CODE] [--follow INDEX]
                     [--timeout SECONDS] MODULE.wasm [ARG...]

submits N jobs (default 100) running MODULE with ARGs, in which "{i}" is
replaced by the job's index (0 to N-1); follows one job's logs live (job 0
unless --follow says otherwise; -1 for none); waits for every job; prints a
summary; gives up when the broker says nothing for SECONDS (default 600)
while jobs are unfinished. A job is as expected when it Completed with exit code CODE (a number,
or a template like "{i}"; default 0). The exit status is 0 when every job was
as expected, 1 when some were not, 2 when the client could not do its work.

The broker must be running for the state directory ($SHOAL_HOME, else
$XDG_STATE_HOME/shoal, else ~/.local/state/shoal): `shoal serve`, or any
`shoal job` command, starts one. Example:

    /usr/bin/python3 examples/python_client.py --expect-exit '{i}' \\
        build/tests/wasm/exit_code.wasm '{i}'

The Client class is reused by examples/wordcount/wordcount.py.
"""

import argparse
import json
import os
import sys

import zmq

VERSION = b"shoal/1"
FINAL = ("ok", "error", "end")


class ShoalError(Exception):
    """An error reply from the broker, or no reply at all."""


def state_dir():
    for var, suffix in (("SHOAL_HOME", ""), ("XDG_STATE_HOME", "/shoal")):
        if os.environ.get(var):
            return os.path.abspath(os.environ[var] + suffix)
    return os.path.expanduser("~/.local/state/shoal")


class Client:
    """One DEALER socket to the broker. A stream that follows a running job
    (logs with follow, watch) shares the socket with later replies, so
    follow a job's logs on a Client of its own."""

    def __init__(self, context=None, timeout_s=600):
        self.context = context or zmq.Context.instance()
        self.timeout_ms = int(timeout_s * 1000)
        path = os.path.join(state_dir(), "run", "broker.sock")
        if not os.path.exists(path):
            raise ShoalError("no broker is running for %s (start one with shoal serve)"
                             % state_dir())
        self.sock = self.context.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect("ipc://" + path)

    def close(self):
        self.sock.close()

    def send(self, command, body=None, *frames):
        self.sock.send_multipart(
            [VERSION, command.encode(), json.dumps(body or {}).encode(), *frames])

    def receive(self):
        """The next reply: (kind, body, frames)."""
        if not self.sock.poll(self.timeout_ms):
            raise ShoalError("the broker did not answer for %d s" % (self.timeout_ms // 1000))
        version, kind, body, *frames = self.sock.recv_multipart()
        if version != VERSION:
            raise ShoalError("a reply in protocol %r" % version)
        return kind.decode(), json.loads(body), frames

    def call(self, command, body=None, *frames):
        """A one-shot command: its ok reply (body, frames), or ShoalError."""
        self.send(command, body, *frames)
        kind, reply, frames = self.receive()
        if kind == "error":
            raise ShoalError(reply["error"])
        return reply, frames

    def submit_many(self, specs, module):
        """Submits jobs, all requests first, then the replies (which come in
        order): their ids."""
        for spec in specs:
            self.send("submit", spec, module)
        ids = []
        for _ in specs:
            kind, reply, _frames = self.receive()
            if kind == "error":
                raise ShoalError(reply["error"])
            ids.append(reply["id"])
        return ids

    def follow_logs(self, job_id, out):
        """Writes the job's output to `out` as it is written; the final job."""
        self.send("logs", {"id": job_id, "follow": True})
        while True:
            kind, body, frames = self.receive()
            if kind == "log":
                out.write(frames[0])
                out.flush()
            elif kind == "error":
                raise ShoalError(body["error"])
            else:
                return body

    def wait_all(self, ids):
        """Watches every job on this socket at once (end bodies carry the
        job's id; "states": false spares the state messages); the final
        jobs, by id."""
        for job_id in ids:
            self.send("watch", {"id": job_id, "states": False})
        done = {}
        while len(done) < len(ids):
            try:
                kind, body, _frames = self.receive()
            except ShoalError as e:
                waiting = [i for i in ids if i not in done]
                raise ShoalError("%s; %d jobs have not ended: %s%s" % (
                    e, len(waiting), ", ".join(waiting[:5]),
                    ", ..." if len(waiting) > 5 else "")) from None
            if kind == "error":
                raise ShoalError(body["error"])
            if kind == "end":
                done[body["id"]] = body
        return done

    def output(self, job_id, name, path):
        """One output file's bytes, asked for in parts: a reply carries at
        most 4 MiB of a file (docs/protocol.md)."""
        data = b""
        while True:
            body, frames = self.call("output", {"id": job_id, "name": name, "path": path,
                                                "offset": len(data), "length": 4 << 20})
            data += frames[0]
            if len(data) >= body["size"] or not frames[0]:
                return data


def expand(template, i):
    return template.replace("{i}", str(i))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module")
    parser.add_argument("args", nargs="*")
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--expect-exit", default="0")
    parser.add_argument("--follow", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=600)
    o = parser.parse_args()
    try:
        with open(o.module, "rb") as f:
            module = f.read()
    except OSError as e:
        print("python_client: %s: %s" % (o.module, e.strerror), file=sys.stderr)
        return 2

    try:
        client = Client(timeout_s=o.timeout)
        specs = [{"name": "python-%d" % i, "module": o.module,
                  "args": [expand(a, i) for a in o.args],
                  "labels": {"client": "python"}} for i in range(o.jobs)]
        ids = client.submit_many(specs, module)
        print("submitted %d jobs" % len(ids), flush=True)
        if 0 <= o.follow < len(ids):
            print("--- logs of job %d (%s), live:" % (o.follow, ids[o.follow]), flush=True)
            follower = Client(timeout_s=o.timeout)
            end = follower.follow_logs(ids[o.follow], sys.stdout.buffer)
            follower.close()
            print("--- job %d ended %s, exit code %s" % (o.follow, end["state"], end["exit_code"]))
        jobs = client.wait_all(ids)
        client.close()
    except ShoalError as e:
        print("python_client: %s" % e, file=sys.stderr)
        return 2

    states = {}
    unexpected = []
    for i, job_id in enumerate(ids):
        job = jobs[job_id]
        states[job["state"]] = states.get(job["state"], 0) + 1
        want = int(expand(o.expect_exit, i))
        if job["state"] != "Completed" or job["exit_code"] != want:
            unexpected.append("job %d (%s): %s, exit code %s, expected Completed with %d%s" % (
                i, job_id, job["state"], job["exit_code"], want,
                ": " + job["message"] if job["message"] else ""))
    print("%d jobs: %s" % (len(ids), ", ".join(
        "%d %s" % (n, s) for s, n in sorted(states.items()))))
    for line in unexpected[:10]:
        print("  " + line)
    if len(unexpected) > 10:
        print("  ... and %d more" % (len(unexpected) - 10))
    print("%d as expected, %d not" % (len(ids) - len(unexpected), len(unexpected)))
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
