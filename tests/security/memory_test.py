#!/usr/bin/python3
"""Memory the broker could be made to hold: modules of any size, clients
that ask for large logs or outputs and never read them. The size limit is
said at submission; logs are read from the store a slice at a time as the
client takes them; output files come in parts; every backlog is capped; and
the memory goes back when the clients leave."""

import os
import struct
import subprocess
import tempfile
import time

import zmq

import harness
from harness import Session, check, wasm


def padded(module_bytes, total):
    """`module_bytes` with a custom section that makes the module `total` bytes."""
    name = b"pad"
    body_len = total - len(module_bytes) - 1 - 5 - 1 - len(name)
    payload = b"\0" * body_len
    size = 1 + len(name) + body_len
    leb = bytes([(size >> (7 * i)) & 0x7F | (0x80 if i < 4 else 0) for i in range(5)])
    return module_bytes + b"\x00" + leb + bytes([len(name)]) + name + payload


def test_a_module_over_the_size_limit_is_refused_naming_its_size_and_the_limit():
    with Session("shoal-sec-memory-", extra=["--max-module-size", "1MiB"]) as s:
        big = padded(wasm("exit_code"), 2 << 20)
        check(len(big) == 2 << 20, f"padded to {len(big)}")
        kind, body, _ = s.call("submit", {"module": "big.wasm"}, big)
        check(kind == "error" and body["error"] ==
              "invalid job: the module big.wasm is 2.0 MiB, more than the broker's limit of "
              "1.0 MiB (shoal serve --max-module-size)", f"{kind} {body}")
        kind, body, _ = s.call("submit", {"module": "ok.wasm"}, wasm("exit_code"), b"x" * (2 << 20))
        check(kind == "error" and body["error"].startswith("invalid job: stdin is 2.0 MiB, more "),
              f"stdin: {kind} {body}")
        # The CLI says the same before sending anything.
        path = os.path.join(s.broker.home, "big.wasm")
        with open(path, "wb") as f:
            f.write(big)
        r = subprocess.run([harness.SHOAL, "wasm", "run", path], env=s.broker.env,
                           capture_output=True, text=True, timeout=120)
        check(r.returncode == 125, f"wasm run exited {r.returncode}: {r.stderr}")
        check(f"the module {path} is 2.0 MiB, more than the broker's limit of 1.0 MiB "
              "(shoal serve --max-module-size)" in r.stderr, f"stderr {r.stderr!r}")
        # Far past the limit, ZeroMQ itself drops the sender; the broker goes on.
        raw = zmq.Context.instance().socket(zmq.DEALER)
        raw.setsockopt(zmq.LINGER, 0)
        raw.connect(s.broker.endpoint)
        raw.send_multipart([b"shoal/1", b"submit", b'{"module":"huge.wasm"}',
                            padded(wasm("exit_code"), 8 << 20)])
        check(raw.poll(2000) == 0, "a frame far past the limit got an answer")
        raw.close()
        kind, body, _ = s.call("ping")
        check(kind == "ok", f"ping after the huge frame: {kind} {body}")
        job = s.submit("exit_code", [3])
        check(s.wait_state(job, ["Completed"])["exit_code"] == 3, "a job after it")


def test_clients_that_never_read_a_large_log_do_not_grow_the_broker():
    clients = 50
    with Session("shoal-sec-memory-") as s:
        job = s.submit("spew", [64 << 20])
        j = s.wait_state(job, ["Completed", "Failed"], timeout=300)
        check(j["state"] == "Completed", f"{j['state']} {j['message']}")
        pid = s.broker.pid
        base = harness.anon_kib(pid)
        ctx = zmq.Context.instance()
        socks = []
        for _ in range(clients):
            d = ctx.socket(zmq.DEALER)
            d.setsockopt(zmq.LINGER, 0)
            d.setsockopt(zmq.RCVHWM, 1)  # takes (almost) nothing from the broker
            d.connect(s.broker.endpoint)
            d.send_multipart([b"shoal/1", b"logs", b'{"id":"%s"}' % job.encode()])
            socks.append(d)
        peak = base
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            peak = max(peak, harness.anon_kib(pid))
            time.sleep(0.1)
        kind, _, _ = s.call("ping")
        check(kind == "ok", "the broker stopped answering")
        # 50 x 64 MiB of logs; before slices and the smaller queue, 3.4 GB.
        check(peak - base < 800 * 1024, f"the broker grew by {(peak - base) // 1024} MiB")
        for d in socks:
            d.close()
        back = harness.wait_for("the memory to go back", lambda: (lambda now: now if now - base <
                                                                   200 * 1024 else None)(
            harness.anon_kib(pid)), timeout=60)
        harness.log(f"grew by {(peak - base) // 1024} MiB at most; "
                    f"{(back - base) // 1024} MiB after the clients left")
        # A client that reads gets every byte, in order.
        c = harness.connect(s.broker.endpoint)
        c.send("logs", {"id": job, "stream": "stdout"})
        got = 0
        while True:
            kind, body, frames = c.recv(timeout=120)
            if kind != "log":
                break
            check(frames[0] == b"x" * len(frames[0]), "a chunk is not all 'x'")
            got += len(frames[0])
        c.close()
        check(kind == "end" and got == 64 << 20, f"{kind}: {got} bytes of {64 << 20}")


def test_a_large_output_file_comes_in_parts_and_whole_through_job_get():
    mib = 10
    with Session("shoal-sec-memory-") as s:
        job = s.submit("flood_files", ["big", "/outputs/big.bin", mib])
        j = s.wait_state(job, ["Completed", "Failed"], timeout=300)
        check(j["state"] == "Completed", f"{j['state']} {j['message']}")
        kind, body, _ = s.call("output", {"id": job, "name": "outputs", "path": "big.bin"})
        check(kind == "error" and body["error"] == f"output outputs/big.bin is {mib}.0 MiB; ask "
              "for it in parts of at most 4.0 MiB (offset and length)", f"{kind} {body}")
        data = b""
        while True:
            kind, body, frames = s.call("output", {"id": job, "name": "outputs",
                                                   "path": "big.bin", "offset": len(data),
                                                   "length": 4 << 20})
            check(kind == "ok" and body["size"] == mib << 20, f"{kind} {body}")
            if not frames[0]:
                break
            data += frames[0]
        check(data == b"y" * (mib << 20), f"{len(data)} bytes put together")
        kind, body, _ = s.call("output", {"id": job, "name": "outputs", "path": "big.bin",
                                          "length": (4 << 20) + 1})
        check(kind == "error" and body["error"] == "length 4194305 is not from 1 to 4194304, the "
              "most one output reply carries", f"{kind} {body}")
        out = tempfile.mkdtemp(prefix="shoal-sec-get-")
        r = subprocess.run([harness.SHOAL, "job", "get", job, "--output-dir", out],
                           env=s.broker.env, capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, f"job get: {r.returncode} {r.stderr}")
        with open(os.path.join(out, "outputs", "big.bin"), "rb") as f:
            check(f.read() == b"y" * (mib << 20), "job get wrote other bytes")


harness.run_cases(globals())
