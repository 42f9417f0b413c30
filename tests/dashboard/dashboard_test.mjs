// The dashboard in a real browser: Debian's Chromium, headless, driven by
// Playwright (playwright-core from dashboard/node_modules), against a real
// `shoal serve --api-port` with a private SHOAL_HOME. Each case prints ok or
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

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-dashboard-'));
const env = { ...process.env, SHOAL_HOME: home };
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = spawn(SHOAL, ['serve', '--workers', '2', '--api-port', String(port)], { env, stdio: ['ignore', 'ignore', 'inherit'] });

function shoal(...args) {
  const r = spawnSync(SHOAL, args, { env, encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) throw new Error(`shoal ${args.join(' ')}: ${r.status} ${r.stderr}`);
  return r.stdout.trim();
}
const submit = (...args) => shoal('wasm', 'run', '--wait=false', '--id-only', ...args).split('\n').pop();
const wasm = (name) => path.join(WASM, `${name}.wasm`);

async function waitUp() {
  const end = Date.now() + 30000;
  for (;;) {
    try {
      if ((await fetch(`${base}/api/v1/agent/alive`)).ok) return;
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
  // Re-run: the broker's PUT .../rerun, or the same spec submitted again.
  await page.click('button:has-text("Re-run")');
  await page.waitForURL((url) => !url.hash.endsWith(id), { timeout: DEADLINE }).catch(() => {});
  await page.locator('h1 .badge', { hasText: 'Completed' }).waitFor({ timeout: DEADLINE });
  await page.locator('pre.logs', { hasText: 'tick 6' }).waitFor({ timeout: DEADLINE });
  check(await page.evaluate(() => window.notReloaded === true), 'the page was reloaded by the re-run');
  const runs = JSON.parse(shoal('job', 'list', '--labels', 'source=dashboard', '--output', 'json'));
  const again = runs.filter((j) => j.Name === 'from-the-form').length;  // Bacalhau's Job model
  check(again === 2, `re-run left ${again} jobs`);
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
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  fs.rmSync(home, { recursive: true, force: true });
}
console.log(`${cases.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
