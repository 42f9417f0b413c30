// The jobs page: a live table (polled every second), filters, and pages
// that follow the API's NextToken (the broker's cursor: a page costs the
// same with a million jobs stored).
import { listJobs } from './api.js';
import { ago, badge, clear, duration, every, fullTime, h, shortId } from './dom.js';

const STATES = ['', 'Pending', 'Queued', 'Running', 'Completed', 'Failed', 'Stopped'];

// Kept across visits of the page, so that coming back from a job keeps
// the filters and the page.
const view = { state: '', name: '', labels: '', id: '', limit: 25, tokens: [''], error: '' };

// From submission to the end, for a job that ended.
function took(job) {
  if (!['Completed', 'Failed', 'Stopped'].includes(job.State.StateType)) return '';
  return duration((job.ModifyTime - job.CreateTime) / 1e6);
}

function row(job) {
  const open = () => (location.hash = `#/jobs/${job.ID}`);
  const labels = Object.entries(job.Labels || {}).map(([k, v]) => h('span.chip', v ? `${k}=${v}` : k));
  return h('tr.job', { dataset: { id: job.ID }, onclick: open, tabIndex: 0, onkeydown: (e) => e.key === 'Enter' && open() },
    h('td', badge(job.State.StateType)),
    h('td.mono', h('a', { href: `#/jobs/${job.ID}`, title: job.ID }, shortId(job.ID))),
    h('td.name', job.Name === job.ID ? h('span.muted', '—') : job.Name),
    h('td', labels),
    h('td', { title: fullTime(job.CreateTime) }, ago(job.CreateTime)),
    h('td.num', took(job)),
    h('td.msg', job.State.Message || ''));
}

function filters(reload) {
  const input = (key, placeholder, title) =>
    h('input', { value: view[key], placeholder, title, 'aria-label': placeholder, name: key,
      oninput: (e) => { view[key] = e.target.value.trim(); reload(true); } });
  return h('div.filters',
    h('select', { name: 'state', 'aria-label': 'State', onchange: (e) => { view.state = e.target.value; reload(true); } },
      STATES.map((s) => h('option', { value: s, selected: s === view.state }, s || 'Any state'))),
    input('id', 'ID prefix', 'Jobs whose ID starts with this'),
    input('name', 'Name contains', 'Jobs whose name contains this'),
    input('labels', 'Labels: env=prod, !debug', 'A label selector, as shoal job list --labels takes'),
    h('select', { name: 'limit', 'aria-label': 'Page size', onchange: (e) => { view.limit = Number(e.target.value); reload(true); } },
      [25, 50, 100].map((n) => h('option', { value: n, selected: n === view.limit }, `${n} a page`))));
}

export function jobsPage(main) {
  const body = h('tbody');
  const status = h('div.status');
  const pager = h('div.pager');
  let next = '';
  let timer = null;
  let generation = 0;

  const load = async () => {
    const mine = ++generation;
    try {
      const page = await listJobs({ ...view, token: view.tokens[view.tokens.length - 1], newestFirst: true });
      if (mine !== generation) return;
      next = page.NextToken;
      clear(body, page.Items.length ? page.Items.map(row)
        : h('tr', h('td.empty', { colSpan: 7 }, view.tokens.length > 1 ? 'No more jobs.' : 'No jobs match.')));
      clear(status);
      drawPager();
    } catch (e) {
      if (mine === generation) clear(status, h('div.error', e.message));
    }
  };
  const reload = (reset) => {
    if (reset) view.tokens = [''];
    clearTimeout(timer);
    timer = setTimeout(load, reset ? 200 : 0);
  };
  const drawPager = () => clear(pager,
    h('button', { disabled: view.tokens.length < 2, onclick: () => { view.tokens.pop(); reload(false); } }, '‹ Newer'),
    h('span.muted', `page ${view.tokens.length}`),
    h('button', { disabled: !next, onclick: () => { view.tokens.push(next); reload(false); } }, 'Older ›'));

  clear(main,
    h('div.head', h('h1', 'Jobs'), h('a.button.primary', { href: '#/submit' }, '+ Submit a job')),
    filters(reload),
    status,
    h('div.card.table', h('table.jobs',
      h('thead', h('tr', ['State', 'ID', 'Name', 'Labels', 'Created', 'Took', 'Message'].map((t) => h('th', t)))),
      body)),
    pager);
  const stop = every(1000, load);
  return () => {
    stop();
    clearTimeout(timer);
  };
}
