// The REST API (docs/http-api.md) as the dashboard uses it. Every call is
// same-origin: the dashboard is served by the API it talks to.
//
// An API started with --api-token-file answers 401 without its token. The
// page is served without it; the token the user gives (auth.js) is kept in
// sessionStorage (this tab only, gone when it closes) and sent as
// `Authorization: Bearer TOKEN` on every call, and to the log WebSocket, on
// which a browser sets no header, as the subprotocol `bearer.shoal.HEX`
// (the token's UTF-8 bytes in hex) beside `shoal` (api/logs.h).
const JOBS = '/api/v1/orchestrator/jobs';
const TOKEN_KEY = 'shoal.token';

export class ApiError extends Error {
  constructor(message, status = 0, code = '') {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const token = () => sessionStorage.getItem(TOKEN_KEY) || '';
export const setToken = (t) => (t ? sessionStorage.setItem(TOKEN_KEY, t) : sessionStorage.removeItem(TOKEN_KEY));

// Every 401 is told to the page (main.js shows the token box).
function refused(r, message) {
  window.dispatchEvent(new CustomEvent('shoal:unauthorized', { detail: { hadToken: Boolean(token()), message } }));
  return new ApiError(message, r.status, 'Unauthorized');
}

async function send(method, path, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  if (token()) init.headers.Authorization = `Bearer ${token()}`;
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  try {
    return await fetch(path, init);
  } catch (e) {
    throw new ApiError(`the broker's API does not answer (${e.message})`);
  }
}

async function failure(r) {
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON: said below */
  }
  const message = (json && json.Message) || `${r.status} ${text.slice(0, 200)}`;
  if (r.status === 401) return refused(r, message);
  return new ApiError(message, r.status, (json && json.Code) || '');
}

async function call(method, path, body) {
  const r = await send(method, path, body);
  if (!r.ok) throw await failure(r);
  return r.json();
}

// Whether `candidate` opens the API: true, or the API's refusal.
export async function tryToken(candidate) {
  const r = await fetch('/api/v1/agent/alive', { headers: { Authorization: `Bearer ${candidate}` } }).catch((e) => {
    throw new ApiError(`the broker's API does not answer (${e.message})`);
  });
  if (r.ok) return true;
  const text = await r.text();
  let message = `${r.status} ${r.statusText}`;
  try {
    message = JSON.parse(text).Message || message;
  } catch {
    /* keep the status */
  }
  throw new ApiError(message, r.status);
}

export function listJobs({ limit, token: next, state, name, labels, id, newestFirst }) {
  const q = new URLSearchParams({ limit: String(limit), reverse: String(newestFirst) });
  if (next) q.set('next_token', next);
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
export const jobResults = (id) => call('GET', `${JOBS}/${encodeURIComponent(id)}/results`);
export const metrics = () => call('GET', '/api/v1/shoal/metrics');

// The job's results archive (GET .../results/ID.tar.gz) as a Blob.
export async function resultsArchive(id) {
  const r = await send('GET', `${JOBS}/${encodeURIComponent(id)}/results/${encodeURIComponent(id)}.tar.gz`);
  if (!r.ok) throw await failure(r);
  return r.blob();
}

export const listNodes = () => call('GET', '/api/v1/orchestrator/nodes');
export const agentNode = () => call('GET', '/api/v1/agent/node');

const hex = (text) => Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, '0')).join('');

// The job's output as Bacalhau's log stream sends it: onLine(type, line)
// with type 1 stdout, 2 stderr; onEnd(error or null) once. Returns close().
export function streamLogs(id, onLine, onEnd) {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const url = `${proto}://${location.host}${JOBS}/${encodeURIComponent(id)}/logs?follow=true`;
  const ws = token() ? new WebSocket(url, ['shoal', `bearer.shoal.${hex(token())}`]) : new WebSocket(url);
  let ended = false;
  let opened = false;
  const end = (err) => {
    if (!ended) {
      ended = true;
      onEnd(err);
    }
  };
  ws.onopen = () => (opened = true);
  ws.onmessage = (m) => {
    const f = JSON.parse(m.data);
    if (f.error) end(f.error);
    else if (f.value) onLine(f.value.Type, f.value.Line);
  };
  // A refused upgrade (a missing or wrong token: 401) only shows as a
  // failed connection.
  ws.onerror = () => end(opened ? 'the log stream failed' : 'the log stream was refused or the API does not answer');
  ws.onclose = () => end(null);
  return () => {
    ended = true;
    ws.close();
  };
}
