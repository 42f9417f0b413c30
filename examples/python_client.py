#!/usr/bin/python3
"""A shoal client in Python, speaking only the documented protocol
(docs/protocol.md) over ZeroMQ with Debian's python3-zmq.

    python_client.py [--jobs N] [--expect-exit CODE] [--follow INDEX]
                     [--timeout SECONDS] [--array] MODULE.wasm [ARG...]

submits N jobs (default 100) running MODULE with ARGs, in which "{i}" is
replaced by the job's index (0 to N-1); follows one job's logs live (job 0
unless --follow says otherwise; -1 for none); waits for every job; prints a
summary; gives up when the broker says nothing for SECONDS (default 600)
while jobs are unfinished. With --array, the N jobs are one job array (one
submission, one commit) and its summary is printed. A job is as expected when it Completed with exit code CODE (a number,
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
import contextlib
import hashlib
import json
import os
import sys
import time

import zmq
import zmq.utils.monitor

VERSION = b"shoal/1"
FINAL = ("ok", "error", "end")


class ShoalError(Exception):
    """An error reply from the broker, or no reply at all."""


class Disconnected(ShoalError):
    """The broker this socket was connected to went away (a Client made
    with reconnect=False only)."""


class NoReply(ShoalError, TimeoutError):
    """No reply came within the time allowed."""


def state_dir():
    for var, suffix in (("SHOAL_HOME", ""), ("XDG_STATE_HOME", "/shoal")):
        if os.environ.get(var):
            return os.path.abspath(os.environ[var] + suffix)
    return os.path.expanduser("~/.local/state/shoal")


class Client:
    """One DEALER socket to the broker. A stream that follows a running job
    (logs with follow, watch) shares the socket with later replies, so
    follow a job's logs on a Client of its own. A stream left by an
    exception (a KeyboardInterrupt, say) goes with its socket: the Client
    takes a fresh one (reconnect=True) or is done (reconnect=False), and
    call() never takes a stream's message for its reply.

    `endpoint`: the broker's ZeroMQ endpoint (default: the local broker of
    the state directory). With reconnect=False the socket stays bound to the
    broker it first connected to, for its whole life: when that broker goes
    away every later request raises Disconnected, so a request without a
    reply was either done by that broker or lost with it, and nothing sent
    can reach another broker later (the fault tests rely on this)."""

    def __init__(self, context=None, timeout_s=600, endpoint=None, reconnect=True,
                 connect_timeout_s=5.0):
        self.context = context or zmq.Context.instance()
        self.timeout_ms = int(timeout_s * 1000)
        if endpoint is None:
            path = os.path.join(state_dir(), "run", "broker.sock")
            if not os.path.exists(path):
                raise ShoalError("no broker is running for %s (start one with shoal serve)"
                                 % state_dir())
            endpoint = "ipc://" + path
        self.endpoint, self.reconnect = endpoint, reconnect
        self._open(connect_timeout_s)

    def _open(self, connect_timeout_s):
        endpoint, reconnect = self.endpoint, self.reconnect
        self.sock = self.context.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.monitor = None
        self.connected = self.lost = False
        if not reconnect:
            self.sock.setsockopt(zmq.RECONNECT_IVL, -1)
            self.monitor = self.sock.get_monitor_socket(
                zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED | zmq.EVENT_CLOSED)
        self.sock.connect(endpoint)
        if self.monitor is not None:
            deadline = time.monotonic() + connect_timeout_s
            while not self.connected and not self.lost:
                left = deadline - time.monotonic()
                if left <= 0 or not self.monitor.poll(int(left * 1000)):
                    break
                self._event()
            if not self.connected:
                self.close()
                raise Disconnected("cannot connect to %s" % endpoint)

    def _event(self):
        ev = zmq.utils.monitor.recv_monitor_message(self.monitor)
        if ev["event"] == zmq.EVENT_CONNECTED:
            self.connected = True
        elif ev["event"] in (zmq.EVENT_DISCONNECTED, zmq.EVENT_CLOSED):
            self.lost = True

    def close(self):
        if self.monitor is not None:
            try:
                self.sock.disable_monitor()
            except zmq.ZMQError:
                pass
            self.monitor.close(0)
        self.sock.close(0)

    def abandon(self):
        """Drops whatever this socket still follows (a stream left midway):
        a fresh socket to the same broker, or none with reconnect=False
        (every later request raises Disconnected)."""
        self.close()
        if self.reconnect:
            self._open(0)
        else:
            self.lost = True

    def send(self, command, body=None, *frames):
        self.send_frames([VERSION, command.encode(), json.dumps(body or {}).encode(), *frames])

    def send_frames(self, frames, timeout_s=60):
        """Sends one message of raw frames. Without reconnection it never
        blocks: a DEALER whose only peer is gone would wait forever."""
        if self.monitor is None:
            self.sock.send_multipart(frames)
            return
        deadline = time.monotonic() + timeout_s
        while True:
            if self.lost:
                raise Disconnected("the broker went away")
            try:
                self.sock.send_multipart(frames, zmq.NOBLOCK)
                return
            except zmq.Again:
                pass
            if time.monotonic() > deadline:
                raise NoReply("cannot send for %d s" % timeout_s)
            if self.monitor.poll(100):
                self._event()

    def receive(self, timeout_s=None):
        """The next reply: (kind, body, frames). Raises NoReply after
        `timeout_s` (default: the Client's), Disconnected when the broker
        went away first (reconnect=False)."""
        timeout_ms = self.timeout_ms if timeout_s is None else int(timeout_s * 1000)
        deadline = time.monotonic() + timeout_ms / 1000
        while not self.sock.poll(0):
            if self.lost:
                raise Disconnected("the broker went away")
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoReply("the broker did not answer for %d s" % (timeout_ms // 1000))
            if self.monitor is None:
                self.sock.poll(int(left * 1000))
                continue
            poller = zmq.Poller()
            poller.register(self.sock, zmq.POLLIN)
            poller.register(self.monitor, zmq.POLLIN)
            if self.monitor in dict(poller.poll(int(min(left, 1.0) * 1000))):
                self._event()
        version, kind, body, *frames = self.sock.recv_multipart()
        if version != VERSION:
            raise ShoalError("a reply in protocol %r" % version)
        return kind.decode(), json.loads(body), frames

    def request(self, command, body=None, *frames, timeout_s=None):
        """Sends one request and returns its first reply (kind, body, frames),
        whatever its kind."""
        self.send(command, body, *frames)
        return self.receive(timeout_s)

    def call(self, command, body=None, *frames):
        """A one-shot command: its ok reply (body, frames), or ShoalError.
        A stream's message where the reply should be (a stream this socket
        still follows) is an error, and the socket goes (abandon())."""
        kind, reply, frames = self.request(command, body, *frames)
        if kind == "error":
            raise ShoalError(reply["error"])
        if kind != "ok":
            self.abandon()
            raise ShoalError(
                "%s: a %r message came instead of the reply, from a stream this Client still "
                "followed; the socket is dropped, and whether %s was done is not known: follow "
                "logs or watch on a Client of their own" % (command, kind, command))
        return reply, frames

    @contextlib.contextmanager
    def _streaming(self):
        """A stream on this socket: left before its final message by an
        exception (here or in a callback), the socket goes (abandon())."""
        try:
            yield
        except BaseException:
            self.abandon()
            raise

    def submit_many(self, specs, module):
        """Submits jobs running one module: their ids, in order. The first
        carries the module's bytes; once it is stored, the others name the
        module by its SHA-256 (module_sha256) and carry none, all requests
        first, then the replies (which come in order). A submission the
        broker answers "no module with module_sha256" (the module was pruned
        meanwhile) is sent again with the bytes."""
        if not specs:
            return []
        digest = hashlib.sha256(module).hexdigest()
        first, _frames = self.call("submit", dict(specs[0], module_sha256=digest), module)
        for spec in specs[1:]:
            self.send("submit", dict(spec, module_sha256=digest), b"")
        ids = [first["id"]]
        again = []
        for i in range(1, len(specs)):
            kind, reply, _frames = self.receive()
            if kind == "error" and "no module with module_sha256" in reply["error"]:
                again.append(i)
                ids.append(None)
            elif kind == "error":
                raise ShoalError(reply["error"])
            else:
                ids.append(reply["id"])
        for i in again:
            ids[i] = self.call("submit", specs[i], module)[0]["id"]
        return ids

    def submit_array(self, spec, module, indices=None, items=None, item_target=None,
                     watch=False):
        """Submits a job array (docs/protocol.md, submit "array"): one job
        per index of Slurm's syntax ("1-100") or per item (paths or URLs,
        each mounted at item_target when given); one commit stores every
        task. Returns the array's id and its number of tasks. With
        watch=True, the array's summaries follow on this socket
        (wait_array(..., watched=True) reads them)."""
        array = {}
        if indices is not None:
            array["indices"] = indices
        if items is not None:
            array["items"] = list(items)
        if item_target is not None:
            array["item_target"] = item_target
        body = dict(spec, array=array)
        if watch:
            body["watch"] = True
        reply, _frames = self.call("submit", body, module)
        return reply["id"], reply["tasks"]

    def wait_array(self, array_id, on_progress=None, watched=False):
        """Waits until every task of the array has ended; its final summary
        (counts by state, worst_exit_code, the unsuccessful tasks). Each
        summary on the way goes to on_progress."""
        if not watched:
            self.send("watch", {"id": array_id})
        with self._streaming():
            while True:
                kind, body, _frames = self.receive()
                if kind == "error":
                    break
                if kind not in ("state", "end") or not body.get("array"):
                    continue
                if on_progress:
                    on_progress(body)
                if kind == "end":
                    return body
        raise ShoalError(body["error"])

    def array_tasks(self, array_id):
        """The array's tasks (job JSON each), in index order."""
        reply, _frames = self.call("list", {"array": array_id, "limit": 0, "reversed": True})
        return reply["jobs"]

    def follow_logs(self, job_id, out):
        """Writes the job's output to `out` as it is written; the final job."""
        self.send("logs", {"id": job_id, "follow": True})
        with self._streaming():
            while True:
                kind, body, frames = self.receive()
                if kind == "log":
                    out.write(frames[0])
                    out.flush()
                elif kind == "error":
                    break
                else:
                    return body
        raise ShoalError(body["error"])

    def wait_all(self, ids):
        """Watches every job on this socket at once (end bodies carry the
        job's id; "states": false spares the state messages); the final
        jobs, by id."""
        for job_id in ids:
            self.send("watch", {"id": job_id, "states": False})
        done = {}
        with self._streaming():
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

    def rerun(self, job_id, reason=""):
        """Runs a finished (or running) job again as a new execution of the
        same job (docs/protocol.md, rerun); its job JSON once stored. Not
        repeated on a timeout: the broker may have done it."""
        body, _frames = self.call("rerun", {"id": job_id, **({"reason": reason} if reason else {})})
        return body

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


def run_array(o, module):
    """--array: the N jobs as one array of indices 0..N-1 ({i} becomes the
    array's {} placeholder); its summary, then the tasks not as expected."""
    try:
        client = Client(timeout_s=o.timeout)
        spec = {"name": "python-array", "module": o.module,
                "args": [a.replace("{i}", "{}") for a in o.args],
                "labels": {"client": "python"}}
        array_id, tasks = client.submit_array(spec, module, indices="0-%d" % (o.jobs - 1),
                                              watch=True)
        print("submitted job array %s of %d tasks" % (array_id, tasks), flush=True)
        summary = client.wait_array(array_id, watched=True)
        jobs = client.array_tasks(array_id)
        client.close()
    except ShoalError as e:
        print("python_client: %s" % e, file=sys.stderr)
        return 2
    unexpected = []
    for job in jobs:
        i = int(job["id"].rsplit("-", 1)[1])
        want = int(expand(o.expect_exit, i))
        if job["state"] != "Completed" or job["exit_code"] != want:
            unexpected.append("task %d: %s, exit code %s, expected %d" % (
                i, job["state"], job["exit_code"], want))
    print("%d tasks: %d completed, %d failed, %d stopped" % (
        summary["tasks"], summary["completed"], summary["failed"], summary["stopped"]))
    for line in unexpected[:10]:
        print("  " + line)
    print("%d as expected, %d not" % (len(jobs) - len(unexpected), len(unexpected)))
    return 1 if unexpected or len(jobs) != tasks else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module")
    parser.add_argument("args", nargs="*")
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--expect-exit", default="0")
    parser.add_argument("--follow", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--array", action="store_true",
                        help="submit the N jobs as one job array ({i} is its index)")
    o = parser.parse_args()
    try:
        with open(o.module, "rb") as f:
            module = f.read()
    except OSError as e:
        print("python_client: %s: %s" % (o.module, e.strerror), file=sys.stderr)
        return 2

    if o.array:
        return run_array(o, module)
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
