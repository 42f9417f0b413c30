// The submit form: a .wasm file, arguments, environment, inputs (URLs, or
// files uploaded inline), outputs and limits, sent as a Bacalhau job (PUT
// /api/v1/orchestrator/jobs), with the equivalent `shoal wasm run` shown.
import { submitJob } from './api.js';
import { clear, h } from './dom.js';

const lines = (text) => text.split('\n').map((l) => l.trim()).filter(Boolean);

function quote(s) {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function base64(buffer) {
  const bytes = new Uint8Array(buffer);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function field(label, input, hint) {
  return h('label.field', h('span', label), input, hint ? h('small.muted', hint) : null);
}

// The form's values, read fresh each time.
function read(form) {
  const v = (n) => form.elements[n].value.trim();
  const pairs = (text, what) => lines(text).map((l) => {
    const at = l.indexOf(what);
    return at < 0 ? [l, ''] : [l.slice(0, at).trim(), l.slice(at + what.length).trim()];
  });
  return {
    module: form.elements.module.files[0],
    uploads: [...form.elements.uploads.files],
    name: v('name'),
    args: lines(form.elements.args.value),
    env: pairs(v('env'), '='),
    inputs: pairs(v('inputs'), ' '),
    outputs: pairs(v('outputs'), ':'),
    labels: v('labels'),
    timeout: v('timeout'),
    memory: v('memory'),
  };
}

function commandLine(f) {
  const parts = ['shoal wasm run'];
  if (f.name) parts.push('--name', quote(f.name));
  if (f.labels) parts.push('-l', quote(f.labels));
  for (const [k, val] of f.env) parts.push('-e', quote(`${k}=${val}`));
  for (const [url, target] of f.inputs) parts.push('-i', quote(`${url}:${target}`));
  for (const u of f.uploads) parts.push('-i', quote(`${u.name}:/inputs/${u.name}`));
  for (const [n, p] of f.outputs) parts.push('-o', quote(`${n}:${p}`));
  if (f.timeout) parts.push('--timeout', quote(f.timeout));
  if (f.memory) parts.push('--memory', quote(f.memory));
  parts.push(quote(f.module ? f.module.name : 'MODULE.wasm'));
  if (f.args.some((a) => a.startsWith('-'))) parts.push('--');
  parts.push(...f.args.map(quote));
  return parts.join(' ');
}

function labelMap(text) {
  const out = {};
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const at = item.indexOf('=');
    if (at < 0) out[item] = '';
    else out[item.slice(0, at)] = item.slice(at + 1);
  }
  return out;
}

async function bacalhauJob(f) {
  const entry = `/app/${f.module.name.replace(/[^\w.-]/g, '_')}`;
  const sources = [{ Target: entry, Source: { Type: 'inline', Params: { URL: `data:application/wasm;base64,${base64(await f.module.arrayBuffer())}` } } }];
  for (const [url, target] of f.inputs) sources.push({ Target: target, Source: { Type: 'urlDownload', Params: { URL: url } } });
  for (const u of f.uploads)
    sources.push({ Target: `/inputs/${u.name}`, Source: { Type: 'inline', Params: { URL: `data:application/octet-stream;base64,${base64(await u.arrayBuffer())}` } } });
  const task = { Name: 'main', Engine: { Type: 'wasm', Params: { EntryModule: entry, Parameters: f.args } }, InputSources: sources };
  if (f.env.length) task.Env = Object.fromEntries(f.env);
  if (f.outputs.length) task.ResultPaths = f.outputs.map(([Name, Path]) => ({ Name, Path }));
  if (f.memory) task.Resources = { Memory: f.memory };
  if (f.timeout) task.Timeouts = { ExecutionTimeout: Number(f.timeout) };
  const job = { Type: 'batch', Count: 1, Tasks: [task] };
  if (f.name) job.Name = f.name;
  if (f.labels) job.Labels = labelMap(f.labels);
  return job;
}

export function submitPage(main) {
  const cmd = h('code.cmd');
  const message = h('div');
  const ta = (name, placeholder) => h('textarea', { name, placeholder, rows: 3 });
  const form = h('form.card.submit', { onsubmit: async (e) => {
    e.preventDefault();
    const f = read(form);
    if (!f.module) return clear(message, h('div.error', 'Choose a .wasm module.'));
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    clear(message, h('div.muted', 'Submitting…'));
    try {
      const job = await bacalhauJob(f);
      const r = await submitJob(job);
      location.hash = `#/jobs/${r.JobID}`;
    } catch (err) {
      clear(message, h('div.error', err.message));
    } finally {
      button.disabled = false;
    }
  } },
  field('Module', h('input', { type: 'file', name: 'module', accept: '.wasm,application/wasm', required: true }), 'A WASI Preview 1 program'),
  field('Name', h('input', { name: 'name', placeholder: 'optional' })),
  field('Arguments', ta('args', 'one per line')),
  field('Environment', ta('env', 'KEY=VALUE, one per line')),
  field('Inputs by URL', ta('inputs', 'https://host/file.csv /inputs/file.csv, one per line')),
  field('Input files', h('input', { type: 'file', name: 'uploads', multiple: true }), 'Mounted at /inputs/NAME'),
  field('Outputs', ta('outputs', 'NAME:/path, one per line (/outputs always exists)')),
  field('Labels', h('input', { name: 'labels', placeholder: 'team=blue, nightly' })),
  h('div.row',
    field('Timeout (s)', h('input', { name: 'timeout', type: 'number', min: 0, step: 'any', placeholder: 'none' })),
    field('Memory', h('input', { name: 'memory', placeholder: '1GiB' }))),
  h('div.equivalent', h('span.muted', 'The same from a shell:'), cmd),
  h('div.actions', h('button.primary', { type: 'submit' }, 'Submit'), message));
  const update = () => (cmd.textContent = commandLine(read(form)));
  form.addEventListener('input', update);
  form.addEventListener('change', update);
  update();
  clear(main, h('div.head', h('h1', 'Submit a job')), form);
  return () => {};
}
