// Screenshots of every page in the light and the dark theme, into docs/screenshots/, so the
// pictures in the docs stay current: `npm run screenshots`. It builds the app, starts the
// bridge as `npm start` does, and walks a short first run in headless Chromium (the demo
// model, a small archive, the filter) so the pages show something real.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { zipSync } from 'fflate';
import { ensureAppBuilt } from '../src/bridge/build.ts';
import { DEMO_REPO } from '../src/model/fixtures/demo-repo.ts';
import { browserSkipReason, launchBrowser, startBridgeProcess } from '../test/helpers/browser.ts';

const root = resolve(import.meta.dirname, '..');
const out = resolve(root, 'docs/screenshots');
const PAGES = ['model', 'sources', 'filter', 'train', 'use'] as const;
const enc = new TextEncoder();
/** A tiny project to add as a source: a few Python modules, one of them twice. */
const project = Object.fromEntries([
  ...['app', 'models', 'views', 'utils'].map((m, i) => [
    `example/${m}.py`,
    enc.encode(`"""The ${m} module."""\n\n\ndef ${m}_value(x: int) -> int:\n    return x * ${i + 2}\n`),
  ]),
  ['example/copy_of_app.py', enc.encode(`"""The app module."""\n\n\ndef app_value(x: int) -> int:\n    return x * 2\n`)],
  ['example/README.md', enc.encode('# Example\n')],
]);

async function main(): Promise<void> {
  if (browserSkipReason) throw new Error(browserSkipReason);
  await ensureAppBuilt(root, resolve(root, 'dist'), (m) => console.log(m));
  mkdirSync(out, { recursive: true });
  const bridge = await startBridgeProcess();
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const open = async (id: string) => {
      await page.goto(new URL(`#/${id}`, bridge.origin).href);
      await page.waitForSelector(`[data-testid="page-${id}"]`);
    };
    await page.goto(bridge.url); // the printed link: sets the tab's cookie
    // A first run: the demo model, loaded; an archive; the filter's decisions.
    await open('model');
    await page.click(`[data-testid="download-${DEMO_REPO}"]`);
    await page.click(`[data-testid="download-${DEMO_REPO}"][data-state="stored"]`, { timeout: 60_000 });
    await page.waitForSelector('[data-testid="loaded-model"]', { timeout: 60_000 });
    await open('sources');
    await page.setInputFiles('[data-testid="archive-input"]', {
      name: 'example.zip',
      mimeType: 'application/zip',
      buffer: Buffer.from(zipSync(project)),
    });
    await page.waitForSelector('[data-testid="source-row"][data-name="example.zip"]', { timeout: 60_000 });
    await open('filter');
    await page.waitForSelector('[data-testid="filter-summary"]', { timeout: 60_000 });
    await page.waitForSelector('[data-testid="progress"]', { state: 'detached', timeout: 60_000 });
    for (const id of PAGES) {
      await open(id);
      await page.waitForSelector('[data-testid="gpu-status"]:not([data-state="pending"])', { timeout: 60_000 });
      await page.waitForTimeout(500); // lists filled in after the page's first paint
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        const file = resolve(out, `${id}-${scheme}.png`);
        await page.screenshot({ path: file });
        console.log(`wrote ${file}`);
      }
    }
  } finally {
    await browser.close();
    await bridge.stop();
  }
}

await main();
