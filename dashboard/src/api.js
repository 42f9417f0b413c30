// The REST API (docs/http-api.md) as the dashboard uses it. Every call is
// same-origin: the dashboard is served by the API it talks to.
const JOBS = '/api/v1/orchestrator/jobs';

export class ApiError extends Error {}

async function call(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  let r;
  try {
    r = await fetch(path, init);
  } catch (e) {
    throw new ApiError(`the broker's API does not answer (${e.message})`);
  }
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON: said below */
  }
  if (!r.ok) throw new ApiError((json && json.Message) || `${r.status} ${text.slice(0, 200)}`);
  return json;
}

export function listJobs({ limit, token, state, name, labels, id, newestFirst }) {
  const q = new URLSearchParams({ limit: String(limit), reverse: String(newestFirst) });
  if (token) q.set('next_token', token);
  if (state) q.set('state', state);
  if (name) q.set('name', name);
  if (labels) q.set('labels', labels);
  if (id) q.set('id', id);
  return call('GET', `${JOBS}?${q}`);
}

export const getJob = (id) => call('GET', `${JOBS}/${encodeURIComponent(id)}?include=executions,history`);
export const stopJob = (id) => call('DELETE', `${JOBS}/${encodeURIComponent(id)}`, { reason: 'stopped from the dashboard' });
export const rerunJob = (id) => call('PUT', `${JOBS}/${encodeURIComponent(id)}/rerun`, {});
export const submitJob = (job) => call('PUT', JOBS, { Job: job });

// The jobs this tab submitted, by ID, for a re-run where the broker has no
// PUT .../rerun (kept in memory only: a module may be megabytes).
const submitted = new Map();
export const rememberSpec = (id, job) => submitted.set(id, job);
export const submittedSpec = (id) => submitted.get(id);
export const listNodes = () => call('GET', '/api/v1/orchestrator/nodes');
export const agentNode = () => call('GET', '/api/v1/agent/node');

// The job's output as Bacalhau's log stream sends it: onLine(type, line)
// with type 1 stdout, 2 stderr; onEnd(error or null) once. Returns close().
export function streamLogs(id, onLine, onEnd) {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${proto}://${location.host}${JOBS}/${encodeURIComponent(id)}/logs?follow=true`);
  let ended = false;
  const end = (err) => {
    if (!ended) {
      ended = true;
      onEnd(err);
    }
  };
  ws.onmessage = (m) => {
    const f = JSON.parse(m.data);
    if (f.error) end(f.error);
    else if (f.value) onLine(f.value.Type, f.value.Line);
  };
  ws.onerror = () => end('the log stream failed');
  ws.onclose = () => end(null);
  return () => {
    ended = true;
    ws.close();
  };
}
