#!/usr/bin/env python3
"""`shoal config list|get|set|unset` (the serve configuration) and the REST
API of an auto-started broker that the configuration asks for: `shoal config
set api.port P`, any command, and http://127.0.0.1:P answers. Each case has
a private SHOAL_HOME and stops its broker. Run by `meson test config_api`,
or directly:
  SHOAL_BIN=build/shoal /usr/bin/python3 tests/api/config_test.py [case]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_server import SHOAL, free_port  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import cases  # noqa: E402
from cases import check, failures  # noqa: E402,F401


class Home:
    """A private state directory; `shoal shutdown` and removal at the end."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="shoal-config-")
        self.env = dict(os.environ, SHOAL_HOME=self.path)
        for k in ("SHOAL_API_HOST", "SHOAL_API_PORT", "BACALHAU_API_HOST", "BACALHAU_API_PORT"):
            self.env.pop(k, None)

    def shoal(self, *args):
        return subprocess.run([SHOAL, *args], env=self.env, capture_output=True, text=True,
                              timeout=120)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shoal("shutdown")
        shutil.rmtree(self.path, ignore_errors=True)


def alive(port, deadline_s=30):
    """The API's alive answer, waiting for it to come up; None if it never does."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            return requests.get(f"http://127.0.0.1:{port}/api/v1/agent/alive", timeout=5).json()
        except requests.ConnectionError:
            time.sleep(0.05)
    return None


def test_set_api_port_makes_the_auto_started_broker_serve_the_api():
    with Home() as h:
        port = free_port()
        r = h.shoal("config", "set", "api.port", str(port))
        check(r.returncode == 0 and f"api.port = {port}" in r.stderr, f"set: {r.returncode} {r.stderr}")
        check(h.shoal("job", "list").returncode == 0, "job list after config set failed")
        check(alive(port) == {"Status": "OK"}, f"no REST API on 127.0.0.1:{port} after config set")
        r = h.shoal("config", "set", "api.port", "1")
        check("the running broker takes it when it next starts" in r.stderr,
              f"a change while a broker runs is not said to wait for its restart: {r.stderr}")


def test_bacalhau_spelling_and_key_equals_value():
    with Home() as h:
        check(h.shoal("config", "set", "API.Port=4321").returncode == 0, "API.Port=4321 refused")
        r = h.shoal("config", "get", "api.port")
        check(r.returncode == 0 and r.stdout == "4321\n", f"get api.port: {r.returncode} {r.stdout!r}")
        stored = json.load(open(os.path.join(h.path, "serve.json")))
        check(stored == {"api": {"port": 4321}}, f"serve.json: {stored}")


def test_list_get_unset():
    with Home() as h:
        check(h.shoal("config", "set", "labels", "zone=a", "rack=2").returncode == 0, "labels")
        check(h.shoal("config", "set", "workers", "2").returncode == 0, "workers")
        r = h.shoal("config", "list", "--output", "json")
        items = {i["Key"]: i["Value"] for i in json.loads(r.stdout)}
        check(items.get("labels") == "rack=2,zone=a" and items.get("workers") == "2"
              and items.get("api.port") is None and "max_attempts" in items, f"list: {items}")
        table = h.shoal("config", "list").stdout
        check(table.startswith("KEY") and "--max-attempts" in table, f"list table: {table}")
        check(h.shoal("config", "unset", "workers").returncode == 0, "unset workers")
        r = h.shoal("config", "get", "workers")
        check(r.returncode == 1 and r.stdout == "", f"get of an unset key: {r.returncode} {r.stdout!r}")
        stored = json.load(open(os.path.join(h.path, "serve.json")))
        check(stored == {"labels": {"rack": "2", "zone": "a"}}, f"serve.json: {stored}")


def test_bad_keys_and_values_are_refused_naming_them():
    with Home() as h:
        for args, said in ((["set", "nosuch", "1"], "unknown configuration key 'nosuch'"),
                           (["set", "api.port", "abc"], "api.port: 'abc' is not a whole number"),
                           (["set", "api.port", "70000"], "api.port must be a port number"),
                           (["set", "max_attempts", "0"], "max_attempts must be an integer"),
                           (["set", "labels", "novalue"], "labels: 'novalue' is not key=value"),
                           (["get", "nosuch"], "unknown configuration key 'nosuch'")):
            r = h.shoal("config", *args)
            check(r.returncode == 125 and said in r.stderr, f"config {args}: {r.returncode} {r.stderr}")
        check(not os.path.exists(os.path.join(h.path, "serve.json")),
              "a refused value was stored")


def test_serve_flags_store_the_api():
    with Home() as h:
        port = free_port()
        serve = subprocess.Popen([SHOAL, "serve", "--workers", "1", "--api-port", str(port)],
                                 env=h.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            check(alive(port) == {"Status": "OK"}, "shoal serve --api-port serves no API")
            # The broker stores its flags as it starts listening, which may
            # come just after the API answers.
            deadline = time.monotonic() + 20
            while True:
                r = h.shoal("config", "get", "api.port")
                if r.stdout == f"{port}\n" or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            check(r.stdout == f"{port}\n", f"serve --api-port not stored: {r.stdout!r}")
        finally:
            serve.terminate()
            serve.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(cases.run(globals()))
