#!/usr/bin/env python3
"""The agent endpoints, the auth handshake, the error body, the body cap and
the token rule of shoal's REST API (docs/http-api.md), against a real
`shoal serve --api-port`. Run by `meson test agent_api`, or directly:
  SHOAL_BIN=build/shoal /usr/bin/python3 tests/api/agent_test.py [case]
"""
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_server import SHOAL, WASM_DIR, ApiServer, free_port  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import cases  # noqa: E402
from cases import check, failures  # noqa: E402,F401

ERROR_KEYS = {"Status", "Message", "RequestID", "Code", "Component"}


def test_agent_endpoints(api):
    r = requests.get(api.url("/api/v1/agent/alive"))
    check(r.status_code == 200 and r.json() == {"Status": "OK"}, f"alive: {r.status_code} {r.text}")
    check(r.headers["Content-Type"] == "application/json", f"content type {r.headers}")
    v = requests.get(api.url("/api/v1/agent/version")).json()
    check({"Major", "Minor", "GitVersion", "GitCommit", "BuildDate", "GOOS", "GOARCH"} <= set(v),
          f"version fields: {v}")
    check(v["GitVersion"].startswith("v"), f"GitVersion is no semver: {v}")
    root = pathlib.Path(__file__).resolve().parents[2]
    if (root / ".git").exists():
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        check(v["GitCommit"] == head, f"GitCommit {v['GitCommit']!r}, the checkout is at {head}")
    else:
        check(v["GitCommit"] == "unknown", f"GitCommit outside a checkout: {v}")
    n = requests.get(api.url("/api/v1/agent/node")).json()
    for key in ("NodeID", "NodeType", "Labels", "SupportedProtocols", "ComputeNodeInfo",
                "BacalhauVersion"):
        check(key in n, f"node has no {key}: {n}")
    info = n.get("ComputeNodeInfo", {})
    check(info.get("ExecutionEngines") == ["wasm"], f"engines: {info}")
    check("address" in info and "QueueCapacity" in info, f"Bacalhau's spellings: {info}")
    c = requests.get(api.url("/api/v1/agent/config")).json()
    check(c.get("config", {}).get("API", {}).get("Port") == api.port, f"config: {c}")
    check(requests.get(api.url("/api/v1/agent/debug")).json() == {}, "debug is not {}")
    a = requests.get(api.url("/api/v1/agent/authconfig")).json()
    check(a == {"Version": "1.0.0", "Config": {}}, f"authconfig: {a}")


def test_node_capacity_is_lowered_by_running_jobs(api):
    """The broker's NodeInfo counts its busy local workers, as the local
    pool's NodeState does (one function writes both)."""
    def capacity():
        info = requests.get(api.url("/api/v1/agent/node")).json()["ComputeNodeInfo"]
        pool = requests.get(api.url("/api/v1/orchestrator/nodes/local")).json()["Node"]
        return info, pool["Info"]["ComputeNodeInfo"]

    info, pool = capacity()
    check(info["MaxCapacity"] == {"CPU": 1} and info["AvailableCapacity"] == {"CPU": 1}
          and info["RunningExecutions"] == 0, f"idle: {info}")
    r = api.shoal("wasm", "run", "--id-only", "--wait=false",
                  os.path.join(WASM_DIR, "spin.wasm"))
    job = r.stdout.strip()
    deadline = time.monotonic() + 60
    while True:
        info, pool = capacity()
        if info["RunningExecutions"] == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    check(info["AvailableCapacity"] == {"CPU": 0} and info["RunningExecutions"] == 1
          and info["MaxCapacity"] == {"CPU": 1}, f"busy: {info}")
    for key in ("AvailableCapacity", "MaxCapacity", "RunningExecutions"):
        check(info[key] == pool[key], f"{key}: agent/node {info[key]} vs nodes/local {pool[key]}")
    api.shoal("job", "stop", job)


def test_auth_handshake(api):
    r = requests.get(api.url("/api/v1/auth")).json()
    method = r.get("Methods", {}).get("ClientKey", {})
    check(method.get("type") == "challenge" and method.get("params", {}).get("InputPhrase"),
          f"auth methods: {r}")
    check(r.get("NextToken") == "", f"auth NextToken: {r}")
    one = requests.get(api.url("/api/v1/auth/ClientKey")).json()
    check(one.get("type") == "challenge", f"auth/ClientKey: {one}")
    body = {"Name": "ClientKey", "MethodData": "e30="}
    t = requests.post(api.url("/api/v1/auth/ClientKey"), json=body).json()
    auth = t.get("Authentication", {})
    check(auth.get("success") is True and auth.get("token"), f"auth token: {t}")


def test_nodes(api):
    r = requests.get(api.url("/api/v1/orchestrator/nodes"))
    body = r.json()
    check(r.status_code == 200 and set(body) == {"Nodes", "NextToken"}, f"nodes: {r.text}")
    nodes = body.get("Nodes", [])
    # The requester (the broker), then each worker pool as a compute node,
    # as `shoal node list` lists them.
    if not check(len(nodes) == 2, f"the broker and its local pool: {nodes}"):
        return
    node, pool = nodes
    check(set(node) == {"Info", "Membership", "Connection", "ConnectionState"}, f"{sorted(node)}")
    check(pool["Info"]["NodeID"] == "local" and pool["Info"]["NodeType"] == "Compute" and
          pool["Info"]["ComputeNodeInfo"]["MaxCapacity"]["CPU"] >= 1, f"local pool: {pool}")
    shown = requests.get(api.url("/api/v1/orchestrator/nodes/local")).json()["Node"]
    check(shown["Info"]["NodeID"] == "local", f"nodes/local: {shown}")
    check(node["Membership"] == "APPROVED" and node["Connection"] == "CONNECTED", f"{node}")
    node_id = node["Info"]["NodeID"]
    one = requests.get(api.url(f"/api/v1/orchestrator/nodes/{node_id}"))
    check(one.status_code == 200 and one.json()["Node"]["Info"]["NodeID"] == node_id,
          f"nodes/{node_id}: {one.text}")
    missing = requests.get(api.url("/api/v1/orchestrator/nodes/n-none"))
    check(missing.status_code == 404 and missing.json()["Code"] == "NotFound",
          f"unknown node: {missing.status_code} {missing.text}")


def test_redirects_and_the_dashboard_at_root(api):
    for path, to in (("/version", "/api/v1/agent/version"), ("/livez", "/api/v1/agent/alive")):
        r = requests.get(api.url(path), allow_redirects=False)
        check(r.is_redirect and r.headers["Location"] == to, f"{path}: {r.status_code} {r.headers}")
    check(requests.get(api.url("/livez")).json() == {"Status": "OK"}, "/livez does not lead to alive")
    page = requests.get(api.url("/"))
    check(page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
          and '<script type="module" src="/app.js">' in page.text, f"/: {page.status_code} {page.text[:200]}")
    for path, kind in (("/app.js", "text/javascript"), ("/app.css", "text/css")):
        r = requests.get(api.url(path))
        check(r.status_code == 200 and r.headers["Content-Type"].startswith(kind) and len(r.content) > 1000,
              f"{path}: {r.status_code} {r.headers.get('Content-Type')} {len(r.content)} bytes")
    check(requests.get(api.url("/app.map")).status_code == 404, "an unknown file of the dashboard")


def test_unknown_route_and_method(api):
    r = requests.get(api.url("/api/v1/nothing"), headers={"X-Request-ID": "req-7"})
    body = r.json()
    check(r.status_code == 404 and set(body) == ERROR_KEYS, f"404: {r.status_code} {body}")
    check(body.get("Code") == "NotFound" and body.get("Status") == 404, f"404 body: {body}")
    check(body.get("RequestID") == "req-7", f"RequestID not echoed: {body}")
    r = requests.put(api.url("/api/v1/agent/alive"))
    check(r.status_code == 405 and r.json().get("Message") == "Method Not Allowed",
          f"405: {r.status_code} {r.text}")


def test_large_body_is_413(api):
    r = requests.post(api.url("/api/v1/auth/ClientKey"), data=b"x" * (10 * 1024 * 1024 + 1))
    check(r.status_code == 413, f"an 11 MB body: {r.status_code}")
    body = r.json()
    check(set(body) == ERROR_KEYS and body["Status"] == 413, f"413 body: {body}")
    check("10485760" in body["Message"], f"413 does not name the limit: {body}")
    ok = requests.get(api.url("/api/v1/agent/alive"))
    check(ok.status_code == 200, "the API stopped answering after a large body")


def test_non_loopback_without_token_refuses_to_start():
    with tempfile.TemporaryDirectory() as home:
        p = subprocess.Popen([SHOAL, "serve", "--workers", "1", "--api-host", "0.0.0.0",
                              "--api-port", str(free_port())],
                             env=dict(os.environ, SHOAL_HOME=home), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        try:
            _, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.terminate()
            _, err = p.communicate()
            check(False, "serve started on 0.0.0.0 without a token")
            return
    check(p.returncode != 0, f"serve on 0.0.0.0 without a token exited {p.returncode}")
    check("--api-token-file" in err, f"the refusal does not say what to do: {err}")


def test_token_is_required_when_given():
    with tempfile.NamedTemporaryFile("w", suffix=".token") as f:
        f.write("s3cret-token\n")
        f.flush()
        with ApiServer("--api-token-file", f.name) as api:
            r = requests.get(api.url("/api/v1/agent/alive"))
            check(r.status_code == 401 and r.json().get("Code") == "Unauthorized",
                  f"no token: {r.status_code} {r.text}")
            r = requests.get(api.url("/api/v1/agent/alive"),
                             headers={"Authorization": "Bearer s3cret-tokeX"})
            check(r.status_code == 401, f"a wrong token: {r.status_code}")
            r = requests.get(api.url("/api/v1/agent/alive"),
                             headers={"Authorization": "Bearer s3cret-token"})
            check(r.status_code == 200, f"the right token: {r.status_code} {r.text}")


if __name__ == "__main__":
    sys.exit(cases.run(globals(), fixture=ApiServer))
