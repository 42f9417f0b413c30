// The metrics page: what people would rather look at than read, from the
// broker's last hour (GET /api/v1/shoal/metrics, 10-second buckets): jobs
// per second, queue depth, the run-time distribution and each node's
// utilisation, drawn by uPlot and refreshed every 2 s. Each plot's figure
// carries its totals as data- attributes and says them in a line under it.
import uPlot from 'uplot';
import { metrics } from './api.js';
import { clear, every, h } from './dom.js';

const COLORS = ['#0e7490', '#c2410c', '#7c3aed', '#15803d', '#b45309', '#1d4ed8', '#be185d', '#4d7c0f'];
const sum = (xs) => xs.reduce((n, x) => n + (x || 0), 0);
const perSecond = (xs, seconds) => xs.map((x) => Math.round((x / seconds) * 1000) / 1000);

function msLabel(ms) {
  if (ms < 100) return `${ms}ms`;
  if (ms < 1000) return `${ms / 1000}s`;
  if (ms < 60000) return `${ms / 1000}s`;
  if (ms < 3600000) return `${ms / 60000}m`;
  return `${ms / 3600000}h`;
}

function axisColors() {
  const style = getComputedStyle(document.documentElement);
  const text = style.getPropertyValue('--muted').trim() || '#6b7685';
  const grid = style.getPropertyValue('--line').trim() || '#e3e7ec';
  return { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
}

// One plot in a figure; draw(data, series) makes it anew when the series
// change, else only gives it the new data.
function plot(id, title, opts) {
  const area = h('div.plot-area');
  const note = h('figcaption.muted');
  const figure = h('figure.card.plot', { id }, h('h2', title), area, note);
  let chart = null;
  let names = '';
  const draw = (data, series, axes, x = {}) => {
    const key = series.map((s) => s.label).join('\n');
    const width = Math.max(300, area.clientWidth || 560);
    if (chart && key === names) return chart.setData(data);
    if (chart) chart.destroy();
    names = key;
    const colors = axisColors();
    chart = new uPlot({ width, height: 220, ...opts, series: [x, ...series],
      axes: (axes || [{}, {}]).map((a) => ({ ...colors, ...a })) }, data, area);
  };
  const resize = () => chart && chart.setSize({ width: Math.max(300, area.clientWidth), height: 220 });
  return { figure, note, draw, resize, destroy: () => chart && chart.destroy() };
}

const line = (label, i, extra = {}) => ({ label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: false, ...extra });

export function metricsPage(main) {
  const status = h('div');
  const throughput = plot('plot-throughput', 'Jobs per second', { scales: { y: { range: (u, min, max) => [0, Math.max(max, 0.1)] } } });
  const queue = plot('plot-queue', 'Queue depth', { scales: { y: { range: (u, min, max) => [0, Math.max(max, 1)] } } });
  const runtimes = plot('plot-runtimes', 'Run times (last hour)', { scales: { x: { time: false, range: (u, min, max) => [min - 0.5, max + 0.5] } } });
  const nodes = plot('plot-nodes', 'Utilisation per node (busy slots, %)', { scales: { y: { range: [0, 100] } } });
  const all = [throughput, queue, runtimes, nodes];
  clear(main, h('div.head', h('h1', 'Metrics'), h('span.muted', 'The last hour, in 10-second buckets')), status,
    h('div.plots', all.map((p) => p.figure)));

  const update = (m) => {
    const t = m.Time.map((ns) => ns / 1e9);
    const s = m.BucketSeconds;
    const finished = m.Completed.map((c, i) => c + m.Failed[i] + m.Stopped[i]);
    throughput.draw([t, perSecond(m.Submitted, s), perSecond(finished, s), perSecond(m.Failed, s)],
      [line('submitted/s', 0), line('finished/s', 3), line('failed/s', 1)]);
    Object.assign(throughput.figure.dataset, { submitted: sum(m.Submitted), finished: sum(finished) });
    throughput.note.textContent = `Last hour: ${sum(m.Submitted)} submitted, ${sum(finished)} finished `
      + `(${sum(m.Completed)} completed, ${sum(m.Failed)} failed, ${sum(m.Stopped)} stopped).`;

    queue.draw([t, m.Waiting, m.Running], [line('waiting', 2), line('running', 5)]);
    const sampled = m.Waiting.filter((x) => x !== null);
    queue.figure.dataset.samples = sampled.length;
    queue.note.textContent = sampled.length
      ? `Now: ${sampled[sampled.length - 1]} waiting, ${m.Running.filter((x) => x !== null).pop()} running (averages over 10 s); peak waiting ${Math.max(...sampled)}.`
      : 'No samples yet.';

    const bounds = m.RunTimes.BoundsMs;
    // Bin i: over bound i-1, at most bound i; the last, over the last bound.
    const labels = bounds.map(msLabel).concat(`>${msLabel(bounds[bounds.length - 1])}`);
    const counts = m.RunTimes.Counts;
    runtimes.draw([counts.map((_, i) => i), counts], [{ label: 'jobs', stroke: COLORS[0], fill: 'rgba(14,116,144,.45)',
      paths: uPlot.paths.bars({ size: [0.8, 60] }), points: { show: false } }],
    [{ values: (u, splits) => splits.map((i) => labels[i] || ''), incrs: [1], space: 10, size: 30 },
      { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }],
    { label: 'at most', value: (u, i) => (i === null ? '' : labels[i]) });
    runtimes.figure.dataset.runs = sum(counts);
    runtimes.note.textContent = `${sum(counts)} jobs ran in the last hour (the run time of each one's last execution).`;

    const series = m.Nodes.map((n, i) => line(n.ID, i));
    const util = m.Nodes.map((n) => n.Busy.map((b, i) => (b === null || !n.Slots[i] ? null : Math.round((b / n.Slots[i]) * 1000) / 10)));
    nodes.draw([t, ...util], series);
    nodes.figure.dataset.nodes = m.Nodes.map((n) => n.ID).join(' ');
    nodes.note.textContent = m.Nodes.length ? m.Nodes.map((n, i) => {
      const seen = util[i].filter((x) => x !== null);
      return `${n.ID}: ${seen.length ? Math.round(sum(seen) / seen.length) : 0}% busy on average`;
    }).join('; ') : 'No worker pools yet.';
  };
  const stop = every(2000, async () => {
    try {
      update(await metrics());
      clear(status);
    } catch (e) {
      clear(status, h('div.error', e.message));
    }
  });
  const onResize = () => all.forEach((p) => p.resize());
  window.addEventListener('resize', onResize);
  return () => {
    stop();
    window.removeEventListener('resize', onResize);
    all.forEach((p) => p.destroy());
  };
}
