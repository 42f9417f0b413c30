"""A real `shoal serve --api-port` for the API tests: a private SHOAL_HOME,
a free port on 127.0.0.1, one local worker. Stopped with SIGTERM."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import requests

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
WASM_DIR = os.environ.get("SHOAL_TEST_WASM_DIR", "build/tests/wasm")


def frames_until_close(ws):
    """The data frames a WebSocket receives up to the server's close, and
    the close code (None when the close frame carries none)."""
    import websocket
    frames = []
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return frames, int.from_bytes(data[:2], "big") if len(data) >= 2 else None
        if opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
            frames.append(data)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiServer:
    def __init__(self, *extra):
        self.home = tempfile.mkdtemp(prefix="shoal-api-")
        self.env = dict(os.environ, SHOAL_HOME=self.home)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [SHOAL, "serve", "--workers", "1", "--api-port", str(self.port), *extra],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("shoal serve exited: " + self.proc.stderr.read().decode())
            try:
                requests.get(self.base + "/api/v1/agent/alive", timeout=5)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the API did not come up within 30 s")
                time.sleep(0.05)

    def url(self, path):
        return self.base + path

    def shoal(self, *args, check=True):
        r = subprocess.run([SHOAL, *args], env=self.env, capture_output=True, text=True,
                           timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError(f"shoal {' '.join(args)}: {r.returncode}\n{r.stdout}{r.stderr}")
        return r

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
