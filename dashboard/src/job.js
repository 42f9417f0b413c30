// One job: its spec, executions, history, live logs (Bacalhau's WebSocket
// stream, followed), its output files to view or download (files.js), stop
// and re-run.
import { getJob, rerunJob, stopJob, streamLogs } from './api.js';
import { badge, clear, duration, every, fullTime, h } from './dom.js';
import { filesCard, saveBlob } from './files.js';

const TERMINAL = ['Completed', 'Failed', 'Stopped'];
const EXEC_STATES = { 1: 'New', 2: 'AskForBid', 3: 'AskForBidAccepted', 4: 'AskForBidRejected', 5: 'BidAccepted', 6: 'Running', 7: 'Running', 8: 'PublishingResults', 9: 'Completed', 10: 'Failed', 11: 'Stopped' };
const MAX_LINES = 20000;

function kv(pairs) {
  return h('dl.kv', pairs.filter(([, v]) => v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && !v.length))
    .map(([k, v]) => [h('dt', k), h('dd', v)]));
}

function specCard(job) {
  const task = (job.Tasks && job.Tasks[0]) || {};
  const params = (task.Engine && task.Engine.Params) || {};
  const inputs = (task.InputSources || []).map((s) => {
    const src = s.Source || {};
    const url = (src.Params && (src.Params.URL || src.Params.SourcePath)) || '';
    return h('div.mono', `${url.startsWith('data:') ? 'inline data' : url} → ${s.Target}`);
  });
  const env = Object.entries(task.Env || {}).map(([k, v]) => h('div.mono', `${k}=${v}`));
  const outputs = (task.ResultPaths || []).map((r) => h('div.mono', `${r.Name}: ${r.Path}`));
  const labels = Object.entries(job.Labels || {}).map(([k, v]) => h('span.chip', v ? `${k}=${v}` : k));
  return h('section.card',
    h('h2', 'Spec'),
    kv([
      ['Module', h('span.mono', params.EntryModule || '')],
      ['Entry point', h('span.mono', params.Entrypoint || '')],
      ['Arguments', h('span.mono', (params.Parameters || []).map((a) => JSON.stringify(a)).join(' '))],
      ['Environment', env],
      ['Inputs', inputs],
      ['Outputs', outputs],
      ['Memory', task.Resources && task.Resources.Memory],
      ['Timeout', task.Timeouts && task.Timeouts.ExecutionTimeout ? `${task.Timeouts.ExecutionTimeout} s` : ''],
      ['Labels', labels],
    ]),
    h('details', h('summary', 'The job as JSON'), h('pre.json', JSON.stringify(job, null, 2))));
}

function executionsCard(items) {
  return h('section.card',
    h('h2', 'Executions'),
    items.length ? h('table',
      h('thead', h('tr', ['ID', 'State', 'Exit', 'Started', 'Took', 'Message'].map((t) => h('th', t)))),
      h('tbody', items.map((e) => {
        const state = EXEC_STATES[e.ComputeState.StateType] || String(e.ComputeState.StateType);
        const ended = e.RunOutput !== null && e.RunOutput !== undefined;
        return h('tr',
          h('td.mono', e.ID),
          h('td', badge(state)),
          h('td.num', ended ? String(e.RunOutput.ExitCode) : ''),
          h('td', fullTime(e.CreateTime)),
          h('td.num', ended ? duration((e.ModifyTime - e.CreateTime) / 1e6) : ''),
          h('td.msg', (e.RunOutput && e.RunOutput.ErrorMsg) || e.ComputeState.Message || ''));
      }))) : h('p.muted', 'Not run yet.'));
}

function historyCard(items) {
  return h('section.card',
    h('h2', 'History'),
    h('ol.timeline', items.map((it) => h('li',
      h('time', new Date(it.Time).toLocaleTimeString()),
      h('span.topic', it.Event.Topic),
      h('span', it.Event.Message || (it.Event.Details && it.Event.Details.NewState) || '')))));
}

// The log panel: lines as they arrive, stdout/stderr shown or hidden,
// following the end unless the reader scrolled up, and each stream
// downloadable as a file.
function logPanel(id) {
  const out = h('pre.logs', { 'aria-live': 'polite' });
  const text = { 1: [], 2: [] };
  const note = h('span.muted', 'connecting…');
  let follow = true;
  let lines = 0;
  const show = { 1: true, 2: true };
  out.addEventListener('scroll', () => {
    follow = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
  });
  const toggle = (type, label) => h('label.check', h('input', { type: 'checkbox', checked: true,
    onchange: (e) => { show[type] = e.target.checked; out.classList.toggle(`hide-${type}`, !e.target.checked); } }), label);
  const download = (type, name) => h('button', {
    onclick: () => saveBlob(new Blob([text[type].join('')], { type: 'text/plain' }), `${id}-${name}.txt`),
  }, `⤓ ${name}`);
  const close = streamLogs(id, (type, line) => {
    text[type] = text[type] || [];
    text[type].push(line);
    if (++lines > MAX_LINES) out.firstChild && out.firstChild.remove();
    out.append(h(`span.line.t${type}`, line.endsWith('\n') ? line : `${line}\n`));
    if (follow) out.scrollTop = out.scrollHeight;
    note.textContent = '';
  }, (err) => {
    note.textContent = err ? `log stream: ${err}` : 'end of output';
    note.className = err ? 'error-text' : 'muted';
  });
  const panel = h('section.card.logpanel',
    h('div.head', h('h2', 'Output'),
      h('div.tools', toggle(1, 'stdout'), toggle(2, 'stderr'), download(1, 'stdout'), download(2, 'stderr'))),
    out, note);
  return { panel, close };
}

function open(id) {
  if (location.hash === `#/jobs/${id}`) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = `#/jobs/${id}`;
}

// PUT .../rerun: the job goes back in the queue as a new execution (the
// page and the API are one binary, so the route is always there).
async function rerun(job, say) {
  try {
    const r = await rerunJob(job.ID);
    open(r.JobID || job.ID);
  } catch (e) {
    say(`Re-run failed: ${e.message}`);
  }
}

export function jobPage(main, id) {
  const header = h('div.head');
  const summary = h('div');
  const cards = h('div.grid');
  const message = h('div');
  const say = (m) => clear(message, m ? h('div.error', m) : null);
  let logs = null;
  const files = filesCard();
  let last = '';
  const load = async () => {
    let r;
    try {
      r = await getJob(id);
    } catch (e) {
      return say(e.message);
    }
    const job = r.Job;
    const state = job.State.StateType;
    const key = `${state}/${job.Revision}/${job.ModifyTime}`;
    if (key === last) return;
    last = key;
    if (!logs) {
      logs = logPanel(job.ID);
      main.append(logs.panel, files.card);
    }
    const done = TERMINAL.includes(state);
    if (done) files.load(job);
    clear(header,
      h('div', h('h1', job.Name === job.ID ? 'Job' : job.Name, ' ', badge(state)), h('div.mono.muted', job.ID)),
      h('div.tools',
        h('button.danger', { disabled: done, onclick: async () => { try { await stopJob(job.ID); load(); } catch (e) { say(e.message); } } }, '■ Stop'),
        h('button', { disabled: !done, onclick: () => rerun(job, say) }, '↻ Re-run')));
    const exec = (r.Executions && r.Executions.Items) || [];
    const lastExec = exec[exec.length - 1];
    clear(summary, h('section.card', kv([
      ['Created', fullTime(job.CreateTime)],
      ['Changed', fullTime(job.ModifyTime)],
      ['Exit code', lastExec && lastExec.RunOutput ? String(lastExec.RunOutput.ExitCode) : ''],
      ['Message', job.State.Message],
      ['Command', h('code', `shoal job describe ${job.ID.slice(0, 10)}`)],
    ])));
    clear(cards, specCard(job), h('div', executionsCard(exec), historyCard((r.History && r.History.Items) || [])));
  };
  clear(main, h('a.back', { href: '#/jobs' }, '‹ Jobs'), header, message, summary, cards);
  const stop = every(1000, load);
  return () => {
    stop();
    if (logs) logs.close();
  };
}
