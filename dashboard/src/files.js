// A job's output files: once it has ended, every file of its results
// archive (GET .../results/ID.tar.gz: stdout, stderr, exitCode and each
// output's files, as `shoal job get` writes them), each with its size, a
// view (text shown as text, never as markup; binary said so) and a
// download. The archive is read in the browser (gunzipped with
// DecompressionStream, its tar entries parsed here); a large one only when
// asked for.
import { jobResults, resultsArchive } from './api.js';
import { clear, h } from './dom.js';

const AUTO_LOAD = 16 << 20;  // the outputs' total size read without asking
const SHOWN = 256 << 10;  // a view shows at most this much of a file

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

// The regular files of a tar (ustar, GNU long names): [{ name, data }].
export function untar(tar) {
  const text = (b) => {
    const end = b.indexOf(0);
    return new TextDecoder().decode(end < 0 ? b : b.subarray(0, end));
  };
  const files = [];
  let longName = null;
  for (let off = 0; off + 512 <= tar.length;) {
    const head = tar.subarray(off, off + 512);
    if (head.every((b) => b === 0)) break;
    const size = parseInt(text(head.subarray(124, 136)).trim() || '0', 8);
    const type = String.fromCharCode(head[156]);
    const prefix = text(head.subarray(345, 500));
    let name = (prefix ? `${prefix}/` : '') + text(head.subarray(0, 100));
    const data = tar.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = text(data);
      continue;
    }
    if (longName !== null) [name, longName] = [longName, null];
    if (type === '0' || type === '\0') files.push({ name, data });
  }
  return files;
}

// The file's text, or null when it is not UTF-8 text (a NUL, or bytes
// that do not decode).
function asText(data) {
  if (data.includes(0)) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return null;
  }
}

export function saveBlob(blob, filename) {
  const a = h('a', { href: URL.createObjectURL(blob), download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60000);
}

function fileRow(jobId, f) {
  const view = h('td.view', { colSpan: 3, hidden: true });
  const show = () => {
    if (!view.hidden) return (view.hidden = true);
    const text = asText(f.data);
    if (text === null) clear(view, h('p.muted', `Binary file (${f.data.length} bytes): not shown. Download it.`));
    else if (!text.length) clear(view, h('p.muted', 'Empty file.'));
    else clear(view, h('pre.fileview', text.length > SHOWN ? text.slice(0, SHOWN) : text),
      text.length > SHOWN ? h('p.muted', `The first ${bytes(SHOWN)} shown; download it for the rest.`) : null);
    view.hidden = false;
  };
  const save = () => saveBlob(new Blob([f.data], { type: 'application/octet-stream' }), `${jobId}-${f.name.replaceAll('/', '-')}`);
  return [
    h('tr.file', { dataset: { name: f.name } },
      h('td.mono', f.name),
      h('td.num', { title: `${f.data.length} bytes` }, bytes(f.data.length)),
      h('td.acts', h('button.view', { onclick: show }, 'View'), h('button.download', { onclick: save }, '⤓ Download'))),
    h('tr.fileview', view),
  ];
}

// The card, filled in once the job has ended; load(job) again after a
// re-run changed it.
export function filesCard() {
  const body = h('div', h('p.muted', 'The files are there once the job has ended.'));
  const card = h('section.card.files', h('h2', 'Files'), body);
  let shownFor = '';
  const show = async (id, archive) => {
    const tar = new Uint8Array(await new Response(archive.stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
    const files = untar(tar);
    clear(body,
      h('table.filelist', h('thead', h('tr', ['File', 'Size', ''].map((t) => h('th', t)))), h('tbody', files.map((f) => fileRow(id, f)))),
      h('div.tools', h('button', { onclick: () => saveBlob(archive, `${id}.tar.gz`) }, '⤓ All, as .tar.gz'),
        h('span.muted', `The layout of shoal job get ${id.slice(0, 10)}`)));
  };
  const load = async (job) => {
    const key = `${job.ID}/${job.ModifyTime}`;
    if (key === shownFor) return;
    shownFor = key;
    try {
      const r = await jobResults(job.ID);
      const item = (r.Items || [])[0];
      if (!item) return clear(body, h('p.muted', 'No results published.'));
      const outputs = item.Params.OutputFiles || [];
      const total = outputs.reduce((n, f) => n + (f.Size || 0), 0);
      const note = item.Params.OutputsMessage ? h('p.muted', item.Params.OutputsMessage) : null;
      const fetchAll = async () => {
        clear(body, h('p.muted', 'Loading…'));
        await show(job.ID, await resultsArchive(job.ID));
        if (note) body.append(note);
      };
      if (total <= AUTO_LOAD) return await fetchAll();
      clear(body,
        h('ul', outputs.map((f) => h('li.mono', `${f.Name}/${f.Path} (${bytes(f.Size)})`))),
        h('button', { onclick: () => fetchAll().catch((e) => clear(body, h('div.error', e.message))) }, `Load the files (${bytes(total)})`),
        note);
    } catch (e) {
      shownFor = '';
      clear(body, h('div.error', `files: ${e.message}`));
    }
  };
  return { card, load };
}
