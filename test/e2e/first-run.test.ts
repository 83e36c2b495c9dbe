// A new user's first run in headless Chromium, checking what the page shows at each step:
// the status bar says whether storage is persistent and its figure follows a download
// without a reload; a stored model whose file vanished is reported and fetched again; an
// archive added twice is offered for replacement (no second source) and a duplicate's
// reason names the other source by name; a checkpoint is exported as a PEFT zip from the
// Use page, and the served best checkpoint is checked and named by run and step; progress
// bars are progressbars; the dark theme follows the system setting; controls are reachable
// by keyboard with a visible focus.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserSkipReason, launchBrowser, startBridgeProcess, type RunningBridge } from '../helpers/browser.ts';
import { closeAll, skipNote, writeOpfsAdapter } from '../helpers/e2e.ts';
import { randomAdapter } from '../helpers/tiny.ts';
import { demoModelFiles, DEMO_REPO } from '../../src/model/fixtures/demo.ts';
import { parseConfig } from '../../src/model/config.ts';
import { writePeftAdapter } from '../../src/model/peft.ts';

const DEMO_ID = 'homecoder--demo-coder-random';
const enc = new TextEncoder();
/** Five small, distinct Python files: the archive a user adds (twice). */
const tree = Object.fromEntries(
  [0, 1, 2, 3, 4].map((i) => [
    `project/pkg/mod${i}.py`,
    enc.encode(`def f${i}(x):\n    return x * ${i + 2} + ${i * 7}\n\n\nprint(f${i}(${i}))\n`),
  ]),
);

describe.skipIf(!!browserSkipReason)(`A first run: what the user sees${skipNote}`, () => {
  let bridge: RunningBridge;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let dir: string;
  const at = (hash: string) => new URL(hash, bridge.origin).href;
  const usage = async () => Number(await page.getAttribute('[data-testid="storage"]', 'data-usage'));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hc-e2e-first-run-'));
    bridge = await startBridgeProcess();
    browser = await launchBrowser();
    context = await browser.newContext({ colorScheme: 'light', viewport: { width: 1280, height: 800 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: bridge.origin });
    page = await context.newPage();
    await page.goto(bridge.url); // the printed link, as a user opens it: sets the tab's cookie
    await page.goto(at('#/model'));
  });
  afterAll(() => closeAll({ browser, bridge, dirs: [dir] }));

  it('the status bar says whether storage is persistent', async () => {
    const shown = await page.waitForSelector('[data-testid="storage-persistence"]');
    const persisted = await page.evaluate(() => navigator.storage.persisted());
    expect(await shown.getAttribute('data-persisted')).toBe(String(persisted));
    expect(await shown.textContent()).toMatch(persisted ? /persistent/ : /not persistent/);
  });

  it('the planner remembers the chosen model after a reload', async () => {
    await page.selectOption('[data-testid="plan-model"]', 'Qwen/Qwen2.5-Coder-1.5B');
    await page.click('[data-testid="plan-run"]');
    await page.waitForSelector('[data-testid="plan-result"]', { timeout: 60_000 });
    await page.reload();
    await page.waitForSelector('[data-testid="plan-model"] option[value="Qwen/Qwen2.5-Coder-1.5B"]', { state: 'attached' });
    expect(await page.inputValue('[data-testid="plan-model"]')).toBe('Qwen/Qwen2.5-Coder-1.5B');
  });

  it('the demo model: its size in parameters, progress as a progressbar, the storage figure updated, a loaded state', async () => {
    const params = await page.textContent(`tr:has([data-testid="download-${DEMO_REPO}"]) td:nth-child(2)`);
    expect(params).not.toMatch(/^0\.00/);
    expect(params).toMatch(/^\d+(\.\d+)? [KM]$/);
    const before = await usage();
    // Every progress bar seen while the download runs (it may be quick), with its ARIA values.
    await page.evaluate(() => {
      const w = window as unknown as { bars: Array<Record<string, string | null>> };
      w.bars = [];
      new MutationObserver(() => {
        for (const b of document.querySelectorAll('[role="progressbar"]'))
          w.bars.push(
            Object.fromEntries(['aria-valuemin', 'aria-valuemax', 'aria-valuenow', 'aria-valuetext'].map((a) => [a, b.getAttribute(a)])),
          );
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await page.click(`[data-testid="download-${DEMO_REPO}"]`);
    await page.waitForSelector(`[data-testid="cached-model"][data-id="${DEMO_ID}"][data-complete="true"]`, { timeout: 60_000 });
    const bars = await page.evaluate(() => (window as unknown as { bars: Array<Record<string, string | null>> }).bars);
    expect(bars.length).toBeGreaterThan(0);
    expect(bars.every((b) => b['aria-valuemin'] === '0' && b['aria-valuemax'] === '100' && !!b['aria-valuetext'])).toBe(true);
    expect(bars.some((b) => b['aria-valuenow'] !== null)).toBe(true);
    // The figure follows the download, without a reload.
    await page.waitForFunction((b) => Number(document.querySelector('[data-testid="storage"]')?.getAttribute('data-usage')) > b, before, {
      timeout: 20_000,
    });
    expect(await usage()).toBeGreaterThan(before + 1_000_000); // the demo weights are ≈6 MB
    // "Get" became "Load", then a loaded state; one spelling of the model's id.
    await page.click(`[data-testid="download-${DEMO_REPO}"][data-state="stored"]`);
    await page.waitForSelector(`[data-testid="state-${DEMO_REPO}"][data-state="loaded"]`, { timeout: 60_000 });
    expect(await page.textContent('[data-testid="loaded-model"] h2')).toBe(`Loaded: ${DEMO_REPO}`);
    expect(await page.textContent('[data-testid="model-content"]')).not.toContain(DEMO_ID);
  });

  it('a stored model whose file vanished is reported incomplete, and the missing file is fetched again', async () => {
    await page.evaluate(async (id) => {
      const root = await navigator.storage.getDirectory();
      const folder = await (await root.getDirectoryHandle('models')).getDirectoryHandle(id);
      await folder.removeEntry('model.safetensors');
    }, DEMO_ID);
    await page.click('nav a[data-page="sources"]');
    await page.click('nav a[data-page="model"]');
    const row = await page.waitForSelector(`[data-testid="cached-model"][data-id="${DEMO_ID}"][data-complete="false"]`);
    expect(await row.textContent()).toContain('incomplete: model.safetensors is gone from browser storage');
    const fetch = await row.$('[data-testid="resume"]');
    expect(await fetch!.textContent()).toBe('Fetch the missing files');
    await fetch!.click();
    await page.waitForSelector(`[data-testid="cached-model"][data-id="${DEMO_ID}"][data-complete="true"]`, { timeout: 60_000 });
  });

  it('warns before a large download while storage is not persistent', async () => {
    const persisted = await page.evaluate(() => navigator.storage.persisted());
    console.log(`[e2e tests] storage persistent in headless Chromium: ${persisted}`);
    if (persisted) return; // granted: nothing to warn about
    await page.click('[data-testid="download-Qwen/Qwen2.5-Coder-0.5B"]');
    const warning = await page.waitForSelector('[data-testid="storage-warning"]');
    expect(await warning.textContent()).toMatch(/not persistent/);
    expect(await page.$('[data-testid="progress"]')).toBeNull(); // nothing started
    await page.click('[data-testid="storage-warning"] button:has-text("Cancel")');
    await page.waitForSelector('[data-testid="storage-warning"]', { state: 'detached' });
  });

  it('an archive added twice is offered for replacement; a duplicate names the other source, never an id', async () => {
    await page.goto(at('#/sources'));
    const file = { name: 'src.zip', mimeType: 'application/zip', buffer: Buffer.from(zipSync(tree)) };
    await page.setInputFiles('[data-testid="archive-input"]', file);
    await page.waitForSelector('[data-testid="source-row"][data-name="src.zip"][data-files="5"]', { timeout: 60_000 });
    await page.setInputFiles('[data-testid="archive-input"]', file);
    const offer = await page.waitForSelector('[data-testid="source-exists"]', { timeout: 60_000 });
    expect(await offer.textContent()).toContain('"src.zip" is already a source, with the same content');
    await page.click('[data-testid="source-replace"]');
    await page.waitForSelector('[data-testid="source-note"]', { timeout: 60_000 });
    expect(await page.textContent('[data-testid="source-note"]')).toContain('src.zip: 5 files (0 new, 0 changed, 0 removed)');
    expect(await page.$$('[data-testid="source-row"]')).toHaveLength(1);
    // The same files under another name are another source: their duplicates name src.zip.
    await page.setInputFiles('[data-testid="archive-input"]', { ...file, name: 'copy.zip' });
    await page.waitForSelector('[data-testid="source-row"][data-name="copy.zip"]', { timeout: 60_000 });
    const ids = await page.$$eval('[data-testid="source-row"]', (rows) => rows.map((r) => r.getAttribute('data-id')!));
    await page.click('nav a[data-page="filter"]');
    await page.waitForSelector('[data-testid="filter-summary"][data-total="10"]', { timeout: 120_000 });
    await page.waitForSelector('[data-testid="progress"]', { state: 'detached', timeout: 120_000 });
    await page.click('[data-testid="tab-rejected"]');
    const details = await page.$$eval('[data-testid="decision"][data-reason="duplicate"] [data-testid="decision-detail"]', (els) =>
      els.map((e) => e.textContent ?? ''),
    );
    expect(details).toHaveLength(5);
    for (const d of details) {
      expect(d).toMatch(/^same content as pkg\/mod\d\.py in src\.zip$/);
      for (const id of ids) expect(d).not.toContain(id);
    }
    // Filter settings with units, and which languages are off.
    const summary = ((await page.textContent('[data-testid="filter-settings"] summary')) ?? '').replace(/\s+/g, ' ');
    expect(summary).toMatch(/digits at most \d+% of the characters/);
    expect(summary).toMatch(/near-duplicates from \d+% similar/);
    expect(await page.textContent('[data-testid="languages-off"]')).toMatch(/^(all languages on|languages off: \w)/);
    // An archive of the same name with other content: offered too, and Cancel adds nothing.
    await page.click('nav a[data-page="sources"]');
    const changed = { ...tree, 'project/pkg/mod0.py': enc.encode('x = 1\n') };
    await page.setInputFiles('[data-testid="archive-input"]', { ...file, buffer: Buffer.from(zipSync(changed)) });
    const other = await page.waitForSelector('[data-testid="source-exists"]', { timeout: 60_000 });
    expect(await other.textContent()).toContain('"src.zip" is already a source, with different content');
    await page.click('[data-testid="source-keep"]');
    await page.waitForSelector('[data-testid="source-exists"]', { state: 'detached' });
    expect(await page.$$('[data-testid="source-row"]')).toHaveLength(2);
    // Or kept beside the first, when the user says so.
    await page.setInputFiles('[data-testid="archive-input"]', { ...file, buffer: Buffer.from(zipSync(changed)) });
    await page.click('[data-testid="source-add-another"]', { timeout: 60_000 });
    await page.waitForSelector('[data-testid="source-row"]:nth-child(3)', { timeout: 60_000 });
    expect(await page.$$('[data-testid="source-row"][data-name="src.zip"]')).toHaveLength(2);
    expect(await page.$('[data-testid="source-exists"]')).toBeNull();
  });

  it('the Use page exports a checkpoint as a PEFT zip; the served best checkpoint is checked and named by run and step', async () => {
    const config = parseConfig(JSON.parse(new TextDecoder().decode(demoModelFiles().get('config.json')!)));
    const targets = ['q_proj', 'v_proj'] as const;
    const peft = Object.fromEntries(
      [
        ...writePeftAdapter({
          lora: { r: 2, alpha: 4, dropout: 0, targets: [...targets] },
          baseModel: DEMO_REPO,
          layers: randomAdapter(config, 2, [...targets], 7),
        }),
      ].map(([n, b]) => [n, [...b]]),
    );
    // A checkpoint where training writes one: adapters/runs/<run>/checkpoints/step-NNNNNN.
    await writeOpfsAdapter(page, ['adapters', 'runs', 'run-1', 'checkpoints', 'step-000003'], peft, {
      label: 'demo · run run-1 · step 3',
      run: 'run-1',
      step: 3,
      testLoss: 7.5,
      best: true,
      createdAt: '2026-01-01T00:00:00Z',
    });
    await page.click('nav a[data-page="use"]');
    const id = 'runs/run-1/checkpoints/step-000003';
    const row = await page.waitForSelector(`[data-testid="adapter"][data-id="${id}"]`);
    expect(await (await row.$('[data-testid="adapter-name"]'))!.textContent()).toBe('run-1 · step 3');
    // Export, where the adapters are listed.
    const [download] = await Promise.all([page.waitForEvent('download'), (await row.$('[data-testid="adapter-export"]'))!.click()]);
    expect(download.suggestedFilename()).toBe('run-1-step-3-adapter.zip');
    const zipped = unzipSync(new Uint8Array(readFileSync((await download.path())!)));
    expect(Object.keys(zipped).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    for (const n of Object.keys(zipped)) expect([...zipped[n]]).toEqual(peft[n]);
    // Serving the best checkpoint checks its box and names it readably.
    await page.click('[data-testid="serve-best"]');
    await page.waitForSelector('[data-testid="serving"][data-adapters="1"]', { timeout: 60_000 });
    expect(await page.textContent('[data-testid="serving"]')).toContain('with run-1 · step 3 × 1');
    expect(await page.textContent('[data-testid="serving"]')).not.toContain('runs/');
    expect(await page.textContent('[data-testid="serving"]')).toContain(DEMO_REPO); // one spelling of the model's id
    await page.waitForSelector('[data-testid="bridge-status"][data-state="serving"]', { timeout: 30_000 });
    expect(await page.textContent('[data-testid="use-content"]')).not.toContain(DEMO_ID);
    await page.waitForSelector(`[data-testid="adapter"][data-id="${id}"][data-serving="true"]`);
    expect(await page.isChecked(`[data-testid="adapter"][data-id="${id}"] [data-testid="adapter-use"]`)).toBe(true);
    // "Copy" says it copied.
    await page.click('[data-testid="copy-settings"]');
    await page.waitForSelector('[data-testid="copy-settings"]:has-text("Copied")');
  });

  it('every control is reached by keyboard with a visible focus', async () => {
    await page.goto(at('#/sources'));
    await page.waitForSelector('[data-testid="sources-content"]');
    const seen: Array<{ tag: string; outline: string }> = [];
    for (let i = 0; i < 25; i++) {
      await page.keyboard.press('Tab');
      seen.push(
        await page.evaluate(() => {
          const e = document.activeElement as HTMLElement;
          return { tag: e.tagName, outline: getComputedStyle(e).outlineStyle };
        }),
      );
    }
    const tags = new Set(seen.map((s) => s.tag));
    for (const t of ['A', 'INPUT', 'BUTTON']) expect(tags.has(t)).toBe(true);
    expect(seen.filter((s) => s.tag !== 'BODY').every((s) => s.outline !== 'none')).toBe(true);
  });

  it('follows the system colour scheme: dark under an emulated dark setting', async () => {
    const background = (p: Page) => p.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    const light = await background(page);
    const dark = await browser.newContext({ colorScheme: 'dark' });
    try {
      const p = await dark.newPage();
      await p.goto(bridge.url);
      await p.goto(at('#/model'));
      await p.waitForSelector('[data-testid="model-content"]');
      const bg = await background(p);
      const lum = (c: string) => {
        const [r, g, b] = c.match(/\d+/g)!.map(Number);
        return (r + g + b) / 3;
      };
      expect(lum(light)).toBeGreaterThan(200);
      expect(lum(bg)).toBeLessThan(60);
      expect(lum(await p.evaluate(() => getComputedStyle(document.body).color))).toBeGreaterThan(180);
    } finally {
      await dark.close();
    }
  });
});
