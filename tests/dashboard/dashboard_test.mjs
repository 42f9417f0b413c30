// The dashboard in a real browser: Debian's Chromium, headless, driven by
// Playwright (playwright-core from dashboard/node_modules), against a real
// `shoal serve --api-port` with a private SHOAL_HOME (and, for the token
// case, a second one with --api-token-file). Each case prints ok or
// FAIL; the run ends with "N passed, N failed". Screenshots of each page go
// to $SHOAL_SCREENSHOTS (the build directory's dashboard-screenshots/).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const SHOAL = path.resolve(process.env.SHOAL_BIN || 'build/shoal');
const WASM = path.resolve(process.env.SHOAL_TEST_WASM_DIR || 'build/tests/wasm');
const DASHBOARD = path.resolve(process.env.SHOAL_DASHBOARD_DIR || 'dashboard');
const SHOTS = path.resolve(process.env.SHOAL_SCREENSHOTS || 'build/dashboard-screenshots');
const CHROMIUM = '/usr/bin/chromium';
const DEADLINE = 60000;

function cannotRun(why) {
  // Under CI a test that cannot run fails; elsewhere it is skipped (77).
  console.log(`${process.env.CI === 'true' ? 'FAIL' : 'SKIP'}: ${why}`);
  process.exit(process.env.CI === 'true' ? 1 : 77);
}

let chromium;
try {
  ({ chromium } = createRequire(path.join(DASHBOARD, 'package.json'))('playwright-core'));
} catch (e) {
  cannotRun(`playwright-core is not installed in ${DASHBOARD}/node_modules (tools/setup): ${e.message}`);
}
if (!fs.existsSync(CHROMIUM)) cannotRun(`${CHROMIUM} is missing (tools/setup installs Debian's chromium)`);

const freePort = () => new Promise((resolve) => {
  const s = net.createServer();
  s.listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

// A `shoal serve --api-port` with a SHOAL_HOME of its own; stop() ends it.
async function startServer(...extra) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-dashboard-'));
  const env = { ...process.env, SHOAL_HOME: home };
  const port = await freePort();
  const proc = spawn(SHOAL, ['serve', '--workers', '2', '--api-port', String(port), ...extra], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const stop = async () => {
    if (proc.exitCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
    fs.rmSync(home, { recursive: true, force: true });
  };
  return { home, env, base: `http://127.0.0.1:${port}`, proc, stop };
}

const main = await startServer();
const { home, env, base } = main;

function shoalIn(envOf, ...args) {
  const r = spawnSync(SHOAL, args, { env: envOf, encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) throw new Error(`shoal ${args.join(' ')}: ${r.status} ${r.stderr}`);
  return r.stdout.trim();
}
const shoal = (...args) => shoalIn(env, ...args);
const submit = (...args) => shoal('wasm', 'run', '--wait=false', '--id-only', ...args).split('\n').pop();
const wasm = (name) => path.join(WASM, `${name}.wasm`);

// Until `url` answers (any status: a token may be needed).
async function waitUp(url = `${base}/api/v1/agent/alive`) {
  const end = Date.now() + 30000;
  for (;;) {
    try {
      await fetch(url);
      return;
    } catch { /* not yet */ }
    if (Date.now() > end) throw new Error('the API did not come up within 30 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const cases = [];
const test = (name, fn) => cases.push({ name, fn });
function check(ok, message) {
  if (!ok) throw new Error(message);
}
const state = async (page) => (await page.locator('h1 .badge').textContent()).trim();

test('the jobs table lists jobs and filters them by state', async (page) => {
  const done = submit('--name', 'hello', '-l', 'team=blue', wasm('args_env'), 'a', 'b');
  const failed = submit('--name', 'traps', wasm('trap'));
  shoal('job', 'logs', '--follow', failed);
  shoal('job', 'logs', '--follow', done);
  await page.goto(`${base}/`);
  await page.locator(`tr.job[data-id="${done}"] .badge`, { hasText: 'Completed' }).waitFor({ timeout: DEADLINE });
  await page.locator(`tr.job[data-id="${failed}"] .badge`, { hasText: 'Failed' }).waitFor({ timeout: DEADLINE });
  await page.screenshot({ path: path.join(SHOTS, 'jobs.png'), fullPage: true });
  await page.selectOption('select[name=state]', 'Failed');
  await page.locator(`tr.job[data-id="${done}"]`).waitFor({ state: 'detached', timeout: DEADLINE });
  check(await page.locator(`tr.job[data-id="${failed}"]`).count() === 1, 'the Failed filter hides the failed job');
  await page.selectOption('select[name=state]', '');
});

test('a job submitted from the form reaches Completed in the table without a reload', async (page) => {
  await page.goto(`${base}/#/submit`);
  await page.evaluate(() => { window.notReloaded = true; });
  await page.setInputFiles('input[name=module]', wasm('ticker'));
  await page.fill('input[name=name]', 'from-the-form');
  await page.fill('textarea[name=args]', '6\n300');
  await page.fill('input[name=labels]', 'source=dashboard');
  const cmd = await page.locator('code.cmd').textContent();
  check(cmd === 'shoal wasm run --name from-the-form -l source=dashboard ticker.wasm 6 300', `command line: ${cmd}`);
  await page.fill('textarea[name=env]', 'GREETING=hello');
  await page.locator('code.cmd', { hasText: '-e GREETING=hello' }).waitFor({ timeout: DEADLINE });
  await page.evaluate(() => { document.activeElement.blur(); window.scrollTo(0, 0); });
  await page.screenshot({ path: path.join(SHOTS, 'submit.png'), fullPage: true });
  await page.click('button[type=submit]');
  await page.waitForURL(/#\/jobs\/j-/, { timeout: DEADLINE });
  const id = decodeURIComponent(page.url().split('#/jobs/')[1]);
  await page.click('a[data-nav=jobs]');
  const row = page.locator(`tr.job[data-id="${id}"]`);
  await row.waitFor({ timeout: DEADLINE });
  const first = (await row.locator('.badge').textContent()).trim();
  check(['Pending', 'Queued', 'Running'].includes(first), `the new job was already ${first}`);
  await row.locator('.badge', { hasText: 'Completed' }).waitFor({ timeout: DEADLINE });
  check(await page.evaluate(() => window.notReloaded === true), 'the page was reloaded');
  check((await row.locator('td.name').textContent()) === 'from-the-form', 'the row names the job');
  await row.click();
  await page.locator('pre.logs', { hasText: 'tick 6' }).waitFor({ timeout: DEADLINE });
  await page.locator('h1 .badge', { hasText: 'Completed' }).waitFor({ timeout: DEADLINE });
  // Re-run: the broker's PUT .../rerun puts the same job back in the queue
  // as a second execution, and the page (not reloaded) shows it again.
  await page.click('button:has-text("Re-run")');
  const deadline = Date.now() + DEADLINE;
  let executions = [];
  let state = '';
  while (Date.now() < deadline) {
    executions = JSON.parse(shoal('job', 'executions', id, '--output', 'json'));
    state = JSON.parse(shoal('job', 'describe', id, '--output', 'json')).Job.State.StateType;
    if (executions.length === 2 && state === 'Completed') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  check(executions.length === 2 && state === 'Completed',
    `after the re-run: ${executions.length} executions, state ${state}`);
  await page.locator('h1 .badge', { hasText: 'Completed' }).waitFor({ timeout: DEADLINE });
  await page.locator('pre.logs', { hasText: 'tick 6' }).waitFor({ timeout: DEADLINE });
  check(await page.evaluate(() => window.notReloaded === true), 'the page was reloaded by the re-run');
  const runs = JSON.parse(shoal('job', 'list', '--labels', 'source=dashboard', '--output', 'json'));
  check(runs.filter((j) => j.Name === 'from-the-form').length === 1, 'the re-run made another job');
});

test('a running job shows its log lines as they arrive, and stdout downloads', async (page) => {
  const id = submit('--name', 'ticking', wasm('ticker'), '25', '200');
  await page.goto(`${base}/#/jobs/${id}`);
  await page.locator('pre.logs', { hasText: 'tick 2' }).waitFor({ timeout: DEADLINE });
  const seenWhile = await state(page);
  const partial = await page.locator('pre.logs').textContent();
  check(!partial.includes('tick 25'), 'the whole output was there at once');
  check(['Running', 'Queued'].includes(seenWhile), `lines arrived while the job was ${seenWhile}`);
  await page.locator('pre.logs', { hasText: 'tick 25' }).waitFor({ timeout: DEADLINE });
  await page.locator('h1 .badge', { hasText: 'Completed' }).waitFor({ timeout: DEADLINE });
  await page.locator('.logpanel .muted', { hasText: 'end of output' }).waitFor({ timeout: DEADLINE });
  await page.screenshot({ path: path.join(SHOTS, 'job.png'), fullPage: true });
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("stdout")')]);
  const file = path.join(home, 'stdout-download');
  await download.saveAs(file);
  const text = fs.readFileSync(file, 'utf8');
  const expected = Array.from({ length: 25 }, (_, i) => `tick ${i + 1}\n`).join('');
  check(text === expected, `downloaded stdout: ${JSON.stringify(text.slice(0, 80))}`);
  check(download.suggestedFilename() === `${id}-stdout.txt`, `file name ${download.suggestedFilename()}`);
});

test('a job\'s output files are listed with their sizes, shown as text and downloaded', async (page) => {
  const text = 'hello <b>from</b> the job';  // markup, shown as text
  const id = submit('--name', 'writes-a-file', '-o', 'out:/out', wasm('tree_maker'), 'write', '/out/hello.html', text);
  shoal('job', 'logs', '--follow', id);
  await page.goto(`${base}/#/jobs/${id}`);
  const file = page.locator('tr.file[data-name="out/hello.html"]');
  await file.waitFor({ timeout: DEADLINE });
  const names = await page.locator('tr.file').evaluateAll((rows) => rows.map((r) => r.dataset.name));
  check(JSON.stringify(names) === JSON.stringify(['stdout', 'stderr', 'exitCode', 'out/hello.html']), `files: ${names}`);
  check((await file.locator('td.num').textContent()) === `${text.length} B`, 'the size of out/hello.html');
  check((await file.locator('td.num').getAttribute('title')) === `${text.length} bytes`, 'the exact size');
  await file.locator('button.view').click();
  const view = page.locator('pre.fileview', { hasText: 'hello <b>from</b> the job' });
  await view.waitFor({ timeout: DEADLINE });
  check(await view.locator('b').count() === 0, 'the file\'s markup was made into elements');
  await page.locator('tr.file[data-name="exitCode"] button.view').click();
  await page.locator('pre.fileview', { hasText: /^0$/ }).waitFor({ timeout: DEADLINE });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(SHOTS, 'files.png'), fullPage: true });
  const [download] = await Promise.all([page.waitForEvent('download'), file.locator('button.download').click()]);
  const saved = path.join(home, 'file-download');
  await download.saveAs(saved);
  const bytes = fs.readFileSync(saved);
  check(bytes.equals(Buffer.from(text)), `downloaded out/hello.html: ${JSON.stringify(bytes.toString().slice(0, 80))}`);
  check(download.suggestedFilename() === `${id}-out-hello.html`, `file name ${download.suggestedFilename()}`);
});

test('the stop button stops a running job', async (page) => {
  const id = submit('--name', 'spinning', wasm('spin'));
  await page.goto(`${base}/#/jobs/${id}`);
  await page.locator('h1 .badge', { hasText: 'Running' }).waitFor({ timeout: DEADLINE });
  await page.click('button:has-text("Stop")');
  await page.locator('h1 .badge', { hasText: 'Stopped' }).waitFor({ timeout: DEADLINE });
  const job = JSON.parse(shoal('job', 'describe', id, '--output', 'json'));
  const stopped = job.Job.State.StateType;  // Bacalhau's GetJobResponse
  check(stopped === 'Stopped', `the broker says ${stopped}`);
  check(await page.locator('button:has-text("Stop")').isDisabled(), 'Stop is still enabled');
});

test('the nodes page shows the local pool with its slots', async (page) => {
  await page.goto(`${base}/#/nodes`);
  // The broker (the requester node), then the local pool: two slots for two workers.
  const pool = page.locator('.node', { has: page.locator('h2', { hasText: /^local$/ }) });
  await pool.locator('.slot').first().waitFor({ timeout: DEADLINE });
  check(await pool.locator('.slot').count() === 2, 'two slots for two workers');
  check((await pool.locator('.badge').textContent()) === 'CONNECTED', 'the pool is connected');
  check(await page.locator('.node').count() === 2, 'the requester node and the local pool');
  await page.screenshot({ path: path.join(SHOTS, 'nodes.png'), fullPage: true });
});

// The totals a plot's figure carries (data- attributes from the data it plots).
const plotted = (page) => page.evaluate(() => {
  const d = (id) => document.getElementById(id).dataset;
  return { finished: Number(d('plot-throughput').finished), submitted: Number(d('plot-throughput').submitted),
    runs: Number(d('plot-runtimes').runs), samples: Number(d('plot-queue').samples), nodes: d('plot-nodes').nodes };
});

test('the metrics page plots jobs per second, queue depth, run times and utilisation', async (page) => {
  await page.goto(`${base}/#/metrics`);
  await page.waitForFunction(() => document.getElementById('plot-throughput')?.dataset.finished !== undefined, null, { timeout: DEADLINE });
  const before = await plotted(page);
  const ids = [submit(wasm('args_env'), 'x'), submit(wasm('args_env'), 'y'), submit(wasm('ticker'), '3', '100')];
  for (const id of ids) shoal('job', 'logs', '--follow', id);
  await page.waitForFunction((b) => {
    const t = document.getElementById('plot-throughput').dataset;
    return Number(t.finished) >= b.finished + 3 && Number(t.submitted) >= b.submitted + 3
      && Number(document.getElementById('plot-runtimes').dataset.runs) >= b.runs + 3;
  }, before, { timeout: DEADLINE });
  const after = await plotted(page);
  check(after.samples > 0, 'the queue depth has samples');
  check(after.nodes.split(' ').includes('local'), `the utilisation plot's nodes: ${after.nodes}`);
  check(await page.locator('figure.plot canvas').count() === 4, 'four plots drawn');
  check(/\d+ submitted, \d+ finished/.test(await page.locator('#plot-throughput figcaption').textContent()), 'the summary line');
  await page.screenshot({ path: path.join(SHOTS, 'metrics.png'), fullPage: true });
});

test('with --api-token-file the page asks for the token; a wrong one is refused, the right one works', async (page) => {
  const tokenFile = path.join(home, 'api-token');
  fs.writeFileSync(tokenFile, 'dashboard-s3cret\n');
  const tokened = await startServer('--api-token-file', tokenFile);
  try {
    await waitUp(`${tokened.base}/`);
    check((await fetch(`${tokened.base}/api/v1/orchestrator/jobs`)).status === 401, 'the API without the token');
    const id = shoalIn(tokened.env, 'wasm', 'run', '--wait=false', '--id-only', wasm('ticker'), '20', '150').split('\n').pop();
    await page.goto(`${tokened.base}/#/jobs/${id}`);
    const box = page.locator('form.login');
    await box.waitFor({ timeout: DEADLINE });
    await page.fill('input[name=token]', 'not-the-token');
    await page.click('form.login button[type=submit]');
    await page.locator('form.login .error', { hasText: 'Wrong token' }).waitFor({ timeout: DEADLINE });
    await page.screenshot({ path: path.join(SHOTS, 'token.png'), fullPage: true });
    await page.fill('input[name=token]', 'dashboard-s3cret');
    await page.click('form.login button[type=submit]');
    // The job's page, its log lines over the WebSocket (the token as a subprotocol).
    await page.locator('pre.logs', { hasText: 'tick 2' }).waitFor({ timeout: DEADLINE });
    await page.locator('pre.logs', { hasText: 'tick 20' }).waitFor({ timeout: DEADLINE });
    await page.locator('.logpanel .muted', { hasText: 'end of output' }).waitFor({ timeout: DEADLINE });
    await page.locator('tr.file[data-name="stdout"]').waitFor({ timeout: DEADLINE });
    await page.click('a[data-nav=jobs]');
    await page.locator(`tr.job[data-id="${id}"] .badge`, { hasText: 'Completed' }).waitFor({ timeout: DEADLINE });
    await page.click('#signout');
    await box.waitFor({ timeout: DEADLINE });
    check(await page.evaluate(() => sessionStorage.getItem('shoal.token')) === null, 'signing out forgets the token');
  } finally {
    await tokened.stop();
  }
});

let failed = 0;
let browser;
try {
  fs.mkdirSync(SHOTS, { recursive: true });
  await waitUp();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  for (const c of cases) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await c.fn(page);
      check(!errors.length, `errors in the page: ${errors.join('; ')}`);
      console.log(`ok    ${c.name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL  ${c.name}\n      ${String(e.message).split('\n').join('\n      ')}`);
      await page.screenshot({ path: path.join(SHOTS, `failed-${cases.indexOf(c)}.png`) }).catch(() => {});
    }
    await context.close();
  }
} catch (e) {
  failed = cases.length;
  console.log(`FAIL  ${e.message}`);
} finally {
  if (browser) await browser.close();
  await main.stop();
}
console.log(`${cases.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
