// The nodes: the broker's local pool and any other the API lists, with
// their labels, slots and last heartbeat, refreshed every few seconds.
import { listNodes } from './api.js';
import { clear, every, h } from './dom.js';

// A Slurm pilot's place, state and age (Info.Pilot; docs/slurm.md).
function pilotText(p) {
  const age = p.AgeSeconds >= 3600 ? `${Math.floor(p.AgeSeconds / 3600)}h`
    : p.AgeSeconds >= 60 ? `${Math.floor(p.AgeSeconds / 60)}m` : `${p.AgeSeconds || 0}s`;
  const where = p.Node ? ` on node ${p.Node}` : '';
  return `${p.Provider || 'slurm'} job ${p.JobID || '(not yet submitted)'}${where}, ${p.State || ''}, ${age} old`
    + (p.Reason ? ` (${p.Reason})` : '');
}

function nodeCard(n) {
  const info = n.Info || {};
  const compute = info.ComputeNodeInfo || {};
  const max = (compute.MaxCapacity && compute.MaxCapacity.CPU) || 0;
  const free = (compute.AvailableCapacity && compute.AvailableCapacity.CPU) || 0;
  const busy = Math.max(0, max - free);
  const conn = n.ConnectionState || {};
  return h('section.card.node',
    h('div.head', h('h2.mono', info.NodeID || ''), h(`span.badge.s-${(n.Connection || '').toLowerCase()}`, n.Connection || '')),
    h('div.slots', { title: `${busy} of ${max} slots busy` },
      Array.from({ length: max }, (_, i) => h(`span.slot${i < busy ? '.busy' : ''}`))),
    h('dl.kv',
      h('dt', 'Type'), h('dd', info.NodeType || ''),
      h('dt', 'Slots'), h('dd', `${busy} busy, ${free} idle of ${max}`),
      h('dt', 'Engines'), h('dd', (compute.ExecutionEngines || []).join(', ')),
      h('dt', 'Labels'), h('dd', Object.entries(info.Labels || {}).map(([k, v]) => h('span.chip', `${k}=${v}`))),
      h('dt', 'Last heartbeat'), h('dd', conn.LastHeartbeat ? new Date(conn.LastHeartbeat).toLocaleString() : ''),
      h('dt', 'Membership'), h('dd', n.Membership || ''),
      info.Pilot ? [h('dt', 'Pilot'), h('dd.pilot', pilotText(info.Pilot))] : []));
}

export function nodesPage(main) {
  const list = h('div.nodes');
  clear(main, h('div.head', h('h1', 'Nodes')), list);
  return every(3000, async () => {
    try {
      const r = await listNodes();
      clear(list, (r.Nodes || []).map(nodeCard));
    } catch (e) {
      clear(list, h('div.error', e.message));
    }
  });
}
