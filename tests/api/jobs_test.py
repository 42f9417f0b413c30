#!/usr/bin/env python3
"""The orchestrator's jobs endpoints of shoal's REST API (docs/http-api.md):
list, get (with executions and history), executions, history, stop, against
a real `shoal serve --api-port`; jobs submitted with `shoal wasm run` are
seen over HTTP. Run by `meson test jobs_api`, or directly:
  SHOAL_BIN=build/shoal SHOAL_TEST_WASM_DIR=build/tests/wasm \\
    /usr/bin/python3 tests/api/jobs_test.py [case]
"""
import base64
import contextlib
import functools
import http.server
import json
import os
import sys
import tempfile
import threading
import time

import requests
import websocket

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_server import WASM_DIR, ApiServer, frames_until_close  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import cases  # noqa: E402
from cases import check, failures  # noqa: E402,F401

JOBS = "/api/v1/orchestrator/jobs"
JOB_KEYS = {"ID", "Name", "Namespace", "Type", "Priority", "Count", "Constraints", "Meta",
            "Labels", "Tasks", "State", "Version", "Revision", "CreateTime", "ModifyTime"}
EXEC_KEYS = {"ID", "Namespace", "EvalID", "Name", "NodeID", "JobID", "JobVersion",
             "AllocatedResources", "DesiredState", "ComputeState", "PublishedResult",
             "RunOutput", "PreviousExecution", "NextExecution", "FollowupEvalID", "Revision",
             "CreateTime", "ModifyTime"}


def run(api, *args, wait=True):
    """Submits with `shoal wasm run`; the job id."""
    extra = [] if wait else ["--wait=false"]
    r = api.shoal("wasm", "run", "--id-only", *extra, *args)
    return r.stdout.strip().splitlines()[-1]


def wait_state(api, job_id, states, deadline_s=60):
    deadline = time.monotonic() + deadline_s
    while True:
        job = requests.get(api.url(f"{JOBS}/{job_id}")).json()["Job"]
        if job["State"]["StateType"] in states:
            return job
        if time.monotonic() > deadline:
            raise RuntimeError(f"{job_id} is still {job['State']} after {deadline_s} s")
        time.sleep(0.05)


def test_a_job_run_by_the_cli_is_seen_over_http(api):
    job_id = run(api, "-l", "team=blue", os.path.join(WASM_DIR, "args_env.wasm"), "a", "b")
    r = requests.get(api.url(JOBS))
    check(r.status_code == 200, f"list: {r.status_code} {r.text}")
    items = [j for j in r.json()["Items"] if j["ID"] == job_id]
    if not check(len(items) == 1, f"{job_id} not listed: {r.text[:500]}"):
        return
    job = items[0]
    check(set(job) == JOB_KEYS, f"Job keys: {sorted(job)}")
    check(job["State"]["StateType"] == "Completed", f"state: {job['State']}")
    check(job["Type"] == "batch" and job["Namespace"] == "default", f"type/namespace: {job}")
    check(job["Labels"] == {"team": "blue"}, f"labels: {job['Labels']}")
    check(isinstance(job["CreateTime"], int) and job["CreateTime"] > 10**18,
          f"CreateTime is not Unix ns: {job['CreateTime']}")
    engine = job["Tasks"][0]["Engine"]
    check(engine["Type"] == "wasm" and engine["Params"]["Parameters"] == ["a", "b"]
          and engine["Params"]["Entrypoint"] == "_start", f"engine: {engine}")
    check(r.json()["NextToken"] == "", f"NextToken: {r.json()['NextToken']}")


def test_get_with_executions_and_history(api):
    job_id = run(api, os.path.join(WASM_DIR, "args_env.wasm"))
    r = requests.get(api.url(f"{JOBS}/{job_id[:12]}"), params={"include": "executions,history"})
    body = r.json()
    check(r.status_code == 200 and set(body) == {"Job", "Executions", "History"},
          f"get: {r.status_code} {sorted(body)}")
    check(body["Job"]["ID"] == job_id, f"short id found {body['Job']['ID']}")
    execs = body["Executions"]["Items"]
    if check(len(execs) == 1, f"executions: {execs}"):
        e = execs[0]
        check(set(e) == EXEC_KEYS, f"Execution keys: {sorted(e)}")
        check(e["ComputeState"]["StateType"] == 9 and e["DesiredState"]["StateType"] == 2,
              f"execution states are Bacalhau's integers: {e['ComputeState']} {e['DesiredState']}")
        check(e["RunOutput"]["ExitCode"] == 0 and "stderr" in e["RunOutput"],
              f"RunOutput: {e['RunOutput']}")
        check(e["JobID"] == job_id and e["ID"].startswith("e-"), f"ids: {e['ID']} {e['JobID']}")
    history = body["History"]["Items"]
    topics = [h["Event"]["Topic"] for h in history]
    check(topics[0] == "Submission" and "State Update" in topics, f"history topics: {topics}")
    check(history[-1]["Event"]["Details"] == {"NewState": "Completed", "PreviousState": "Running"},
          f"last: {history[-1]}")
    check(all(h["Type"] in ("JobLevel", "ExecutionLevel") for h in history), f"{history}")
    plain = requests.get(api.url(f"{JOBS}/{job_id}")).json()
    check(set(plain) == {"Job"}, f"without include: {sorted(plain)}")
    ex = requests.get(api.url(f"{JOBS}/{job_id}/executions")).json()
    check(ex["NextToken"] == "" and len(ex["Items"]) == 1, f"/executions: {ex}")
    h = requests.get(api.url(f"{JOBS}/{job_id}/history")).json()
    check(h["NextToken"] == "" and len(h["Items"]) == len(history), f"/history: {h}")
    h = requests.get(api.url(f"{JOBS}/{job_id}/history"), params={"event_type": "execution"})
    check(all(i["Type"] == "ExecutionLevel" for i in h.json()["Items"]), f"filter: {h.text}")
    bad = requests.get(api.url(f"{JOBS}/{job_id}/history"), params={"event_type": "x"})
    check(bad.status_code == 400, f"bad event_type: {bad.status_code}")


def test_unknown_job_is_404(api):
    for path in ("j-00000000-nope", "j-00000000-nope/executions", "j-00000000-nope/history"):
        r = requests.get(api.url(f"{JOBS}/{path}"))
        body = r.json()
        check(r.status_code == 404 and body["Code"] == "NotFound"
              and "j-00000000-nope" in body["Message"], f"{path}: {r.status_code} {body}")
    r = requests.delete(api.url(f"{JOBS}/j-00000000-nope"))
    check(r.status_code == 404, f"DELETE unknown: {r.status_code}")


def test_list_paging_order_and_labels(api):
    ids = [run(api, "-l", f"page=yes,n={i}", os.path.join(WASM_DIR, "args_env.wasm"))
           for i in range(3)]
    seen, token = [], ""
    for _ in range(5):
        params = {"limit": 2, "labels": "page=yes"}
        if token:
            params["next_token"] = token
        body = requests.get(api.url(JOBS), params=params).json()
        seen += [j["ID"] for j in body["Items"]]
        token = body["NextToken"]
        if not token:
            break
    check(seen == ids, f"pages, oldest first: {seen} != {ids}")
    rev = requests.get(api.url(JOBS), params={"labels": "page=yes", "reverse": "true"}).json()
    check([j["ID"] for j in rev["Items"]] == ids[::-1], f"reverse: {rev}")
    one = requests.get(api.url(JOBS), params=[("labels", "page=yes"), ("labels", "n!=1")]).json()
    check([j["ID"] for j in one["Items"]] == [ids[0], ids[2]], f"repeated labels: {one}")
    bad = requests.get(api.url(JOBS), params={"labels": "n in ("})
    check(bad.status_code == 400 and bad.json()["Code"] == "InternalError", f"bad selector: {bad.text}")
    bad = requests.get(api.url(JOBS), params={"next_token": "zz"})
    check(bad.status_code == 400, f"bad token: {bad.status_code}")
    bad = requests.get(api.url(JOBS), params={"order_by": "name"})
    check(bad.status_code == 500, f"bad order_by: {bad.status_code}")


def test_pages_miss_and_repeat_no_job_while_jobs_are_added(api):
    module = os.path.join(WASM_DIR, "args_env.wasm")
    first = [run(api, "-l", "cursor=yes", "--name", f"cursor-{i}", module, wait=False)
             for i in range(9)]
    added, seen, token = [], [], ""
    for _ in range(20):
        params = {"limit": 2, "labels": "cursor=yes"}
        if token:
            params["next_token"] = token
        body = requests.get(api.url(JOBS), params=params).json()
        seen += [j["ID"] for j in body["Items"]]
        token = body["NextToken"]
        if not token:
            break
        if len(added) < 3:  # jobs submitted between pages come at the end, once each
            added.append(run(api, "-l", "cursor=yes", module, wait=False))
    check(seen == first + added, f"oldest first while adding: {seen} != {first + added}")
    newest, token = [], ""
    for _ in range(20):
        params = {"limit": 5, "labels": "cursor=yes", "reverse": "true", "next_token": token}
        body = requests.get(api.url(JOBS), params=params).json()
        newest += [j["ID"] for j in body["Items"]]
        token = body["NextToken"]
        if not token:
            break
    check(newest == (first + added)[::-1], f"newest first: {newest}")
    for i in first:
        wait_state(api, i, {"Completed"})
    named = requests.get(api.url(JOBS), params={"name": "cursor-1", "limit": 5}).json()
    check([j["ID"] for j in named["Items"]] == [first[1]], f"name filter: {named}")
    done = requests.get(api.url(JOBS), params={"state": "Completed", "labels": "cursor=yes",
                                               "id": first[4][:10]}).json()
    check([j["ID"] for j in done["Items"]] == [first[4]], f"state and id filter: {done}")
    none = requests.get(api.url(JOBS), params={"state": "Running,Queued",
                                               "labels": "cursor=yes"}).json()
    check(all(j["ID"] in added for j in none["Items"]), f"unfinished filter: {none}")
    bad = requests.get(api.url(JOBS), params={"state": "Sleeping"})
    check(bad.status_code == 400 and "Sleeping" in bad.json()["Message"], f"bad state: {bad.text}")
    by_modified = requests.get(api.url(JOBS), params={"labels": "cursor=yes", "limit": 4,
                                                      "order_by": "modified_at"}).json()
    check(len(by_modified["Items"]) == 4 and by_modified["NextToken"],
          f"modified_at pages: {by_modified}")
    nxt = requests.get(api.url(JOBS), params={"labels": "cursor=yes", "order_by": "modified_at",
                                              "next_token": by_modified["NextToken"]}).json()
    check(len(nxt["Items"]) == len(first + added) - 4, f"modified_at second page: {nxt}")


def test_stop(api):
    job_id = run(api, os.path.join(WASM_DIR, "spin.wasm"), wait=False)
    wait_state(api, job_id, {"Running", "Queued"})
    r = requests.get(api.url(f"{JOBS}/{job_id}/history"))
    check(r.json()["NextToken"] != "", f"history of a live job ends its cursor: {r.text[:300]}")
    r = requests.delete(api.url(f"{JOBS}/{job_id}"), json={"reason": "enough"})
    check(r.status_code == 200 and r.json()["EvaluationID"], f"stop: {r.status_code} {r.text}")
    job = wait_state(api, job_id, {"Stopped"})
    check(job["State"]["StateType"] == "Stopped", f"after stop: {job['State']}")
    check(job["State"].get("Message") == "stopped on request: enough", f"reason: {job['State']}")
    described = api.shoal("job", "describe", job_id).stdout
    check("stopped on request: enough" in described and "stop requested: enough" in described,
          f"describe does not show the stop reason: {described}")
    queued = run(api, os.path.join(WASM_DIR, "args_env.wasm"), wait=False)
    requests.delete(api.url(f"{JOBS}/{queued}") + "?reason=by%20query")
    job = wait_state(api, queued, {"Stopped", "Completed"})
    check(job["State"]["StateType"] == "Completed"
          or job["State"].get("Message") == "stopped on request: by query", f"?reason: {job['State']}")
    r = requests.delete(api.url(f"{JOBS}/{job_id}"))
    check(r.status_code == 200 and r.json() == {"EvaluationID": ""}, f"stop again: {r.text}")
    done = run(api, os.path.join(WASM_DIR, "args_env.wasm"))
    r = requests.delete(api.url(f"{JOBS}/{done}"))
    check(r.status_code == 500 and "Completed" in r.json()["Message"], f"stop Completed: {r.text}")
    listed = api.shoal("job", "list", "--order-reversed").stdout
    check(job_id[:10] in listed, f"shoal job list does not show {job_id}: {listed}")


def test_rerun(api):
    done = run(api, os.path.join(WASM_DIR, "args_env.wasm"), "again")
    r = requests.put(api.url(f"{JOBS}/{done[:12]}/rerun"),
                     json={"JobVersion": 0, "Reason": "flaky disk", "Namespace": ""})
    check(r.status_code == 200, f"rerun: {r.status_code} {r.text}")
    body = r.json()
    check(set(body) == {"EvaluationID", "JobID", "JobVersion", "Warnings"}, f"keys: {body}")
    check(body["JobID"] == done and body["JobVersion"] == 1 and body["Warnings"] == []
          and len(body["EvaluationID"]) == 36, f"RerunJobResponse: {body}")
    job = wait_state(api, done, {"Completed", "Failed"})
    r = requests.get(api.url(f"{JOBS}/{done}/executions"))
    execs = r.json()["Items"]
    check(len(execs) == 2 and all(e["ComputeState"]["StateType"] == 9 for e in execs),
          f"two completed executions: {[e['ComputeState'] for e in execs]}")
    history = requests.get(api.url(f"{JOBS}/{done}/history")).json()["Items"]
    messages = [h["Event"]["Message"] for h in history]
    check("rerun requested: flaky disk" in messages, f"history: {messages}")
    check(job["State"]["StateType"] == "Completed", f"after rerun: {job['State']}")
    listed = api.shoal("job", "executions", done).stdout
    check(listed.count("Completed") >= 2, f"shoal job executions: {listed}")
    # Not a PUT: 405; no such job: 400 BadRequest (as Bacalhau's store wraps it).
    r = requests.get(api.url(f"{JOBS}/{done}/rerun"))
    check(r.status_code == 405, f"GET rerun: {r.status_code} {r.text}")
    r = requests.put(api.url(f"{JOBS}/j-00000000/rerun"))
    check(r.status_code == 400 and r.json()["Code"] == "BadRequest"
          and r.json()["Component"] == "JobStore", f"unknown rerun: {r.status_code} {r.text}")
    r = requests.put(api.url(f"{JOBS}/{done}/rerun"), json={"JobVersion": 7})
    check(r.status_code == 400 and "job version 7 not found" in r.json()["Message"],
          f"version 7: {r.status_code} {r.text}")
    r = requests.put(api.url(f"{JOBS}/{done}/rerun"), data="{not json")
    check(r.status_code == 400, f"bad body: {r.status_code} {r.text}")
    # A reason goes into the job's history: past 4096 bytes it is refused
    # whole (400, its size said), never cut (a stop's too: rerun_test.py).
    r = requests.put(api.url(f"{JOBS}/{done}/rerun"), json={"Reason": "x" * 5000})
    check(r.status_code == 400 and r.json()["Code"] == "BadRequest"
          and "reason is 5000 bytes" in r.json()["Message"], f"long reason: {r.status_code} {r.text}")


def test_rerun_of_a_running_job_stops_it_first_and_of_a_queued_one_is_500(api):
    running = run(api, os.path.join(WASM_DIR, "spin.wasm"), wait=False)
    wait_state(api, running, {"Running"})
    # The one worker is busy: a second job waits in the queue.
    queued = run(api, os.path.join(WASM_DIR, "args_env.wasm"), wait=False)
    r = requests.put(api.url(f"{JOBS}/{queued}/rerun"))
    check(r.status_code == 500 and r.json()["Message"].startswith("cannot rerun job in state Queued")
          and r.json()["Code"] == "" and r.json()["Component"] == "Bacalhau",
          f"rerun Queued: {r.status_code} {r.text}")
    r = requests.put(api.url(f"{JOBS}/{running}/rerun"), json={"reason": "new data"})
    check(r.status_code == 200 and r.json()["JobID"] == running, f"rerun Running: {r.text}")
    deadline = time.monotonic() + 60
    while True:
        execs = requests.get(api.url(f"{JOBS}/{running}/executions")).json()["Items"]
        live = [e for e in execs if e["ComputeState"]["StateType"] in (1, 6)]
        check(len(live) <= 1, f"two live executions at once: {execs}")
        if len(execs) == 2 and len(live) == 1 or failures or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    check(len(execs) == 2 and execs[0]["ComputeState"]["StateType"] == 11,
          f"the first execution is not Cancelled: {[e['ComputeState'] for e in execs]}")
    check("stopped for a re-run: new data" in execs[0]["ComputeState"].get("Message", ""),
          f"first execution's message: {execs[0]['ComputeState']}")
    requests.delete(api.url(f"{JOBS}/{running}"))
    wait_state(api, running, {"Stopped"})
    wait_state(api, queued, {"Completed"})


def bacalhau_job(name, entry, sources=(), params=None):
    """A Bacalhau job as its CLI sends it (extra keys included)."""
    return {"Job": {"Name": name, "Type": "batch", "Count": 1, "Labels": {"via": "http"},
                    "Tasks": [{"Name": "main",
                               "Engine": {"Type": "wasm", "Params": {
                                   "EntryModule": entry, "Entrypoint": "_start",
                                   "Parameters": params or []}},
                               "InputSources": list(sources),
                               "Env": {"GREETING": "hi"}}]},
            "Force": False, "Namespace": "", "IdempotencyToken": "", "Credential": None}


def inline_source(target, data):
    url = "data:application/wasm;base64," + base64.b64encode(data).decode()
    return {"Target": target, "Source": {"Type": "inline", "Params": {"URL": url}}}


def wasm_bytes(name):
    with open(os.path.join(WASM_DIR, name + ".wasm"), "rb") as f:
        return f.read()


def submitted_and_done(api, body):
    r = requests.put(api.url(JOBS), json=body)
    if not check(r.status_code == 200, f"PUT: {r.status_code} {r.text}"):
        return None
    reply = r.json()
    check(set(reply) == {"JobID", "EvaluationID", "Warnings"}, f"PutJobResponse: {reply}")
    job_id = reply["JobID"]
    wait_state(api, job_id, {"Completed", "Failed"})
    return job_id


def test_a_job_put_over_http_runs_and_the_cli_sees_it(api):
    body = bacalhau_job("inline-one", "/app/main.wasm",
                        [inline_source("/app/main.wasm", wasm_bytes("args_env"))], ["x", "y"])
    job_id = submitted_and_done(api, body)
    if not job_id:
        return
    listed = api.shoal("job", "list", "--order-reversed").stdout
    check(job_id[:10] in listed and "inline-one" in listed, f"shoal job list: {listed}")
    out = api.shoal("job", "logs", job_id).stdout
    check("arg[1]=x" in out and "GREETING=hi" in out, f"the job's output: {out}")
    job = requests.get(api.url(f"{JOBS}/{job_id}")).json()["Job"]
    check(job["Name"] == "inline-one" and job["Labels"] == {"via": "http"}, f"job: {job}")
    check(job["State"]["StateType"] == "Completed", f"state: {job['State']}")
    post = requests.post(api.url(JOBS), json=bacalhau_job(
        "posted", "/app/main.wasm", [inline_source("/app/main.wasm", wasm_bytes("args_env"))]))
    check(post.status_code == 200, f"POST is PUT's alias: {post.status_code} {post.text}")


def test_resources_shoal_does_not_enforce_are_warnings(api):
    body = bacalhau_job("resources", "/app/main.wasm",
                        [inline_source("/app/main.wasm", wasm_bytes("args_env"))])
    body["Job"]["Tasks"][0]["Resources"] = {"CPU": "500m", "Memory": "64Mb"}
    r = requests.put(api.url(JOBS), json=body)
    check(r.status_code == 200, f"PUT: {r.status_code} {r.text}")
    check(r.json().get("Warnings") == [
        "Tasks[0].Resources.CPU 500m: accepted, not enforced by shoal (only Memory is limited)"],
        f"Warnings: {r.text}")


def test_a_job_got_is_put_back_and_runs_again_on_its_stored_module(api):
    # `bacalhau job describe ID --output yaml | bacalhau job run -` against
    # shoal's API: the Job as GET shows it, PUT back, state and all.
    body = bacalhau_job("again", "/app/main.wasm",
                        [inline_source("/app/main.wasm", wasm_bytes("args_env"))], ["twice"])
    first = submitted_and_done(api, body)
    if not first:
        return
    job = requests.get(api.url(f"{JOBS}/{first}")).json()["Job"]
    check(len(job["Tasks"][0]["Meta"].get("shoal.module_sha256", "")) == 64,
          f"the task's Meta: {job['Tasks'][0]['Meta']}")
    second = submitted_and_done(api, {"Job": job})
    if not second:
        return
    check(second != first, "the same job id again")
    out = api.shoal("job", "logs", second).stdout
    check("arg[1]=twice" in out, f"the second run's output: {out}")


def test_a_host_path_needs_the_token_and_a_url_module_runs(api):
    # Without a token any local user reaches the API: a path on the broker's
    # host is refused, naming the field and what to do instead.
    local = os.path.abspath(os.path.join(WASM_DIR, "args_env.wasm"))
    r = requests.put(api.url(JOBS), json=bacalhau_job("local-one", local))
    check(r.status_code == 400, f"a host path without a token: {r.status_code} {r.text}")
    message = r.json().get("Message", "")
    check(message.startswith("Tasks[0].Engine.Params.EntryModule: " + local) and
          "--api-token-file" in message, f"the refusal: {message}")
    data = tempfile.mkdtemp(prefix="shoal-api-input-")
    try:
        body = bacalhau_job("local-input", "/app/main.wasm",
                            [inline_source("/app/main.wasm", wasm_bytes("args_env")),
                             {"Target": "/inputs", "Source": {"Type": "localDirectory",
                                                              "Params": {"SourcePath": data}}}])
        r = requests.put(api.url(JOBS), json=body)
        check(r.status_code == 400 and "Tasks[0].InputSources (/inputs): " + data in
              r.json().get("Message", ""), f"a host input without a token: {r.status_code} {r.text}")
    finally:
        os.rmdir(data)
    # With the owner's token, the caller may name the owner's files.
    with tempfile.NamedTemporaryFile("w", suffix=".token") as f:
        f.write("owner-token\n")
        f.flush()
        with ApiServer("--api-token-file", f.name) as owned:
            r = requests.put(owned.url(JOBS), json=bacalhau_job("local-two", local),
                             headers={"Authorization": "Bearer owner-token"})
            check(r.status_code == 200, f"a host path with the token: {r.status_code} {r.text}")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=WASM_DIR)
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/args_env.wasm"
        job_id = submitted_and_done(api, bacalhau_job("url-one", url))
        if job_id:
            out = api.shoal("job", "logs", job_id).stdout
            check("GREETING=hi" in out, f"the URL module's output: {out}")
    finally:
        server.shutdown()
        server.server_close()


def test_bad_query_values_are_400_naming_the_parameter(api):
    for query, name in (("limit=abc", "limit"), ("limit=-1", "limit"), ("limit=1.5", "limit"),
                        ("limit=99999999999999999999", "limit"), ("reverse=maybe", "reverse")):
        r = requests.get(api.url(f"{JOBS}?{query}"))
        body = r.json()
        check(r.status_code == 400 and body.get("Status") == 400 and
              body.get("Message", "").startswith(f"invalid {name} '"),
              f"{query}: {r.status_code} {body}")
    job_id = run(api, os.path.join(WASM_DIR, "args_env.wasm"))
    r = requests.get(api.url(f"{JOBS}/{job_id}/history?limit=x"))
    check(r.status_code == 400 and "invalid limit 'x'" in r.json().get("Message", ""),
          f"history limit=x: {r.status_code} {r.text}")
    ok = requests.get(api.url(f"{JOBS}?limit=1&reverse=false"))
    check(ok.status_code == 200 and len(ok.json()["Items"]) == 1, f"good values: {ok.text}")


def test_bad_bodies_are_400_naming_the_field(api):
    good = bacalhau_job("bad", "/app/main.wasm",
                        [inline_source("/app/main.wasm", wasm_bytes("args_env"))])
    docker = dict(good)
    docker["Job"] = dict(good["Job"], Tasks=[dict(good["Job"]["Tasks"][0],
                                                  Engine={"Type": "docker", "Params": {}})])
    missing = dict(good)
    missing["Job"] = dict(good["Job"], Tasks=[dict(good["Job"]["Tasks"][0], InputSources=[])])
    cases = [("not JSON", "{x", "JSON"), ("no Job", {"Force": False}, "Job"),
             ("docker", docker, "Tasks[0].Engine.Type"),
             ("no module", missing, "Tasks[0].Engine.Params.EntryModule")]
    for what, body, field in cases:
        if isinstance(body, str):
            r = requests.put(api.url(JOBS), data=body)
        else:
            r = requests.put(api.url(JOBS), json=body)
        reply = r.json()
        check(r.status_code == 400 and reply.get("Status") == 400, f"{what}: {r.status_code} {r.text}")
        check(field in reply.get("Message", ""), f"{what}: the message does not name {field}: {reply}")


def log_frames(api, job_id, query="follow=true"):
    """The frames of a log stream as JSON, and the close code."""
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{api.port}{JOBS}/{job_id}/logs?{query}", timeout=60)
    try:
        frames, code = frames_until_close(ws)
        return [json.loads(f) for f in frames], code
    finally:
        ws.close()


def test_logs_over_a_websocket(api):
    job_id = run(api, os.path.join(WASM_DIR, "args_env.wasm"), "p", "q")
    for query in ("follow=true", "follow=false"):
        frames, code = log_frames(api, job_id, query)
        check(code == 1000, f"{query}: close code {code}")
        check(all(set(f) == {"value"} and set(f["value"]) == {"Type", "Line"} for f in frames),
              f"{query}: frame shape: {frames[:3]}")
        out = [f["value"]["Line"] for f in frames if f["value"]["Type"] == 1]
        err = [f["value"]["Line"] for f in frames if f["value"]["Type"] == 2]
        check("arg[1]=p\n" in out and all(line.endswith("\n") for line in out),
              f"{query}: stdout lines: {out}")
        check(err == ["to stderr\n"], f"{query}: stderr lines: {err}")
    frames, code = log_frames(api, "j-00000000-nope")
    check(code == 1000 and len(frames) == 1 and "error" in frames[0]
          and frames[0]["value"] == {"Type": 0, "Line": ""}, f"unknown job: {code} {frames}")
    live = run(api, os.path.join(WASM_DIR, "ticker.wasm"), "20", "50", wait=False)
    frames, code = log_frames(api, live, "follow=true")
    lines = [f["value"]["Line"] for f in frames]
    check(code == 1000 and lines == [f"tick {i}\n" for i in range(1, 21)],
          f"following a running job: {code} {lines}")
    # tail=true is Bacalhau's "from now": nothing of a finished job, and of
    # a running one only the lines written after the request, to its end.
    for query in ("tail=true", "follow=true&tail=true"):
        frames, code = log_frames(api, job_id, query)
        check(code == 1000 and frames == [], f"{query} of a finished job: {code} {frames}")
    live = run(api, os.path.join(WASM_DIR, "ticker.wasm"), "60", "50", wait=False)
    deadline = time.monotonic() + 60
    while True:
        seen = [f["value"]["Line"] for f in log_frames(api, live, "follow=false")[0]]
        if "tick 5\n" in seen:
            break
        check(time.monotonic() < deadline, f"the ticker did not reach tick 5: {seen}")
        if failures:
            return
        time.sleep(0.05)
    frames, code = log_frames(api, live, "follow=true&tail=true")
    lines = [f["value"]["Line"] for f in frames]
    first = int(lines[0].split()[1]) if lines else 0
    check(code == 1000 and first > 5 and lines == [f"tick {i}\n" for i in range(first, 61)],
          f"follow=true&tail=true of a running job: {code} {lines}")
    for query, said in (("follow=maybe", "invalid follow 'maybe'"), ("tail=5", "invalid tail '5'")):
        frames, code = log_frames(api, job_id, query)
        check(code == 1000 and len(frames) == 1 and said in frames[0].get("error", ""),
              f"{query}: {code} {frames}")
    plain = requests.get(api.url(f"{JOBS}/{job_id}/logs"))
    check(plain.status_code == 400 and plain.json()["Code"] == "BadRequest"
          and "websocket" in plain.json()["Message"], f"a plain GET of logs: {plain.status_code}")


@contextlib.contextmanager
def streams_held(server, count):
    """A ticker job that runs for two minutes and `count` log streams
    following it, each past its first line; yields (job id, stream URL,
    the open streams). The job is stopped and the streams closed after."""
    live = run(server, os.path.join(WASM_DIR, "ticker.wasm"), "1200", "100", wait=False)
    url = f"ws://127.0.0.1:{server.port}{JOBS}/{live}/logs?follow=true"
    held = []
    try:
        for _ in range(count):
            ws = websocket.create_connection(url, timeout=60)
            ws.recv()  # streaming: its first line arrived
            held.append(ws)
        yield live, url, held
    finally:
        requests.delete(server.url(f"{JOBS}/{live}"))
        for ws in held:
            ws.close()


def test_a_log_stream_past_the_pool_is_refused_saying_why(api):
    # 32 streams follow a long job (the pool's size); the 33rd gets one
    # error frame naming the limit instead of an upgrade left unanswered,
    # and once one of the 32 is gone a new stream is served again.
    with streams_held(api, 32) as (live, url, held):
        frames, code = log_frames(api, live)
        check(code == 1000 and len(frames) == 1
              and "streams at most 32 job logs at once" in frames[0].get("error", ""),
              f"the 33rd stream: {code} {frames[:2]}")
        held.pop().close()
        deadline = time.monotonic() + 60
        while True:
            ws = websocket.create_connection(url, timeout=60)
            first = json.loads(ws.recv())
            ws.close()
            if "value" in first and first["value"]["Type"] == 1:
                break
            check(time.monotonic() < deadline, f"no stream served after one closed: {first}")
            if failures:
                return
            time.sleep(0.2)


def test_the_log_stream_cap_is_a_flag(api):
    # --api-max-log-streams 2: the third stream is refused naming the flag;
    # a cap out of range is refused when the broker starts.
    with ApiServer("--api-max-log-streams", "2") as small, \
            streams_held(small, 2) as (live, _, _):
        frames, code = log_frames(small, live)
        said = frames[0].get("error", "") if frames else ""
        check(code == 1000 and len(frames) == 1 and "streams at most 2 job logs" in said
              and "--api-max-log-streams" in said, f"the third stream: {code} {frames[:2]}")
    bad = api.shoal("serve", "--api-port", "1", "--api-max-log-streams", "0", check=False)
    check(bad.returncode != 0 and "--api-max-log-streams" in bad.stderr,
          f"a cap of 0: {bad.returncode} {bad.stderr}")


def test_normally_closed_log_streams_free_their_threads(api):
    # python-websocket's close() after recv() has seen the server's close
    # frame answers it and leaves the socket open: the server must not keep
    # a stream thread per such socket (the pool has 32), so the 101st
    # stream is still served.
    job_id = run(api, os.path.join(WASM_DIR, "args_env.wasm"), "p")
    kept = []  # the sockets stay open: python closes them only when collected
    for i in range(101):
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{api.port}{JOBS}/{job_id}/logs?follow=false", timeout=60)
        lines, _ = frames_until_close(ws)
        ws.close()
        kept.append(ws)
        check(any(b"arg[1]=p" in line for line in lines), f"stream {i + 1}: {lines[:3]}")
        if failures:
            return


if __name__ == "__main__":
    sys.exit(cases.run(globals(), fixture=ApiServer))
