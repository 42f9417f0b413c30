// The dashboard's Nodes page as a browser shows it, for tests that run a
// broker of their own (tests/slurm/pilots_test.py): opens URL/#/nodes in
// Debian's Chromium, headless, and waits until a pilot's line (dd.pilot)
// holds TEXT. Prints the pilot lines seen; exit 0 when found, 1 when not
// within 60 s or when the browser cannot run.
//
//   SHOAL_DASHBOARD_DIR=dashboard node tests/dashboard/nodes_probe.mjs URL TEXT
import { createRequire } from 'node:module';
import path from 'node:path';

const [url, text] = process.argv.slice(2);
if (!url || !text) {
  console.error('usage: nodes_probe.mjs URL TEXT');
  process.exit(2);
}
const dashboard = path.resolve(process.env.SHOAL_DASHBOARD_DIR || 'dashboard');
let chromium;
try {
  ({ chromium } = createRequire(path.join(dashboard, 'package.json'))('playwright-core'));
} catch (e) {
  console.error(`playwright-core is not installed in ${dashboard}/node_modules (tools/setup): ${e.message}`);
  process.exit(1);
}
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
let status = 1;
try {
  const page = await browser.newPage();
  await page.goto(`${url}/#/nodes`);
  try {
    await page.locator('dd.pilot', { hasText: text }).first().waitFor({ timeout: 60000 });
    status = 0;
  } catch {
    console.error(`no pilot line holds '${text}'`);
  }
  console.log((await page.locator('dd.pilot').allTextContents()).join('\n'));
} finally {
  await browser.close();
}
process.exit(status);
