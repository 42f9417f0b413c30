#!/usr/bin/env python3
"""What the dashboard needs of shoal's REST API (docs/http-api.md): the
broker's last hour at GET /api/v1/shoal/metrics (its plots), and, with
--api-token-file, the page served without the token while every API call
needs it, the log WebSocket taking the token as a subprotocol
("bearer.shoal.HEX", which a browser can send). Against a real `shoal
serve --api-port`. Run by `meson test dashboard_api`, or directly:
  SHOAL_BIN=build/shoal SHOAL_TEST_WASM_DIR=build/tests/wasm \\
    /usr/bin/python3 tests/api/dashboard_api_test.py [case]
"""
import os
import sys
import tempfile
import time

import requests
import websocket

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_server import WASM_DIR, ApiServer, frames_until_close  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import cases  # noqa: E402
from cases import check  # noqa: E402

METRICS = "/api/v1/shoal/metrics"
JOBS = "/api/v1/orchestrator/jobs"
TOKEN = "s3cret tøken"  # a space and a non-ASCII letter: the subprotocol carries bytes in hex


def total(column):
    return sum(v for v in column if v is not None)


def wait_for(what, fn, deadline_s=60):
    """Polls fn() until it returns something true; that value."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {deadline_s} s")
        time.sleep(0.1)


def test_metrics_count_the_last_hour(api):
    m = requests.get(api.url(METRICS))
    check(m.status_code == 200, f"GET {METRICS}: {m.status_code} {m.text[:200]}")
    m = m.json()
    check(set(m) == {"BucketSeconds", "Time", "Submitted", "Completed", "Failed", "Stopped",
                     "Waiting", "Running", "RunTimes", "Nodes"}, f"keys: {sorted(m)}")
    check(m["BucketSeconds"] == 10 and len(m["Time"]) == 360, "an hour of 10-second buckets")
    check(all(len(m[k]) == 360 for k in ("Submitted", "Completed", "Waiting", "Running")),
          "one value per bucket in each column")
    check(m["Time"] == sorted(m["Time"]) and m["Time"][1] - m["Time"][0] == 10 * 10**9,
          "buckets oldest first, 10 s apart (ns)")
    check(len(m["RunTimes"]["Counts"]) == len(m["RunTimes"]["BoundsMs"]) + 1,
          f"the histogram's bins: {m['RunTimes']}")
    before = m
    for args in (["args_env.wasm", "a"], ["args_env.wasm", "b"], ["trap.wasm"]):
        api.shoal("wasm", "run", "--id-only", os.path.join(WASM_DIR, args[0]), *args[1:],
                  check=False)

    def counted():
        m = requests.get(api.url(METRICS)).json()
        grown = (total(m["Submitted"]) - total(before["Submitted"]) >= 3
                 and total(m["Completed"]) - total(before["Completed"]) >= 2
                 and total(m["Failed"]) - total(before["Failed"]) >= 1
                 and sum(m["RunTimes"]["Counts"]) - sum(before["RunTimes"]["Counts"]) >= 3)
        return m if grown else None
    m = wait_for("three jobs in the metrics", counted)
    local = [n for n in m["Nodes"] if n["ID"] == "local"]
    check(len(local) == 1 and 1 in local[0]["Slots"] and len(local[0]["Busy"]) == 360,
          f"the local pool (one worker) sampled: {m['Nodes']}")
    check(any(v is not None for v in m["Waiting"]) and m["Waiting"][0] is None,
          "queue depth sampled now, not an hour ago (this broker is younger)")
    r = requests.put(api.url(METRICS))
    check(r.status_code == 405, f"PUT {METRICS}: {r.status_code}")


def ws_connect(api, job_id, protocols):
    return websocket.create_connection(
        f"ws://127.0.0.1:{api.port}{JOBS}/{job_id}/logs?follow=true", timeout=60,
        subprotocols=protocols)


def test_with_a_token_the_page_is_open_and_the_api_is_not():
    with tempfile.NamedTemporaryFile("w", suffix=".token") as f:
        f.write(TOKEN + "\n")
        f.flush()
        with ApiServer("--api-token-file", f.name) as api:
            for path in ("/", "/app.js", "/app.css"):
                r = requests.get(api.url(path))
                check(r.status_code == 200, f"{path} without the token: {r.status_code}")
            for path in ("/api/v1/agent/alive", METRICS, JOBS):
                r = requests.get(api.url(path))
                check(r.status_code == 401, f"{path} without the token: {r.status_code}")
            auth = {"Authorization": ("Bearer " + TOKEN).encode()}  # UTF-8, as in the file
            check(requests.get(api.url(METRICS), headers=auth).status_code == 200,
                  "the metrics with the token")
            r = requests.put(api.url(JOBS), headers=auth, json={"Job": {}})
            check(r.status_code == 400, f"a bad job with the token reaches the broker: {r.status_code}")
            job_id = api.shoal("wasm", "run", "--id-only", os.path.join(WASM_DIR, "args_env.wasm"),
                               "p").stdout.strip().splitlines()[-1]
            right = "bearer.shoal." + TOKEN.encode().hex()
            ws = ws_connect(api, job_id, ["shoal", right])
            try:
                check(ws.getsubprotocol() == "shoal",
                      f"the upgrade names 'shoal', never the token's: {ws.getsubprotocol()}")
                lines, _ = frames_until_close(ws)
                check(any(b"arg[1]=p" in line for line in lines), f"the log lines: {lines[:3]}")
            finally:
                ws.close()
            wrong = "bearer.shoal." + (TOKEN[:-1] + "m").encode().hex()
            for protocols in (["shoal", wrong], ["shoal"], None):
                try:
                    ws = ws_connect(api, job_id, protocols)
                    ws.close()
                    check(False, f"a log stream opened with {protocols}")
                except websocket.WebSocketBadStatusException as e:
                    check(e.status_code == 401, f"{protocols}: {e.status_code}")


if __name__ == "__main__":
    sys.exit(cases.run(globals(), fixture=ApiServer))
