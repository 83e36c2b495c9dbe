// "Tune for this GPU" on the Model page in headless Chromium (SwiftShader): with the demo
// model loaded, the tuner runs in the engine worker with a progress bar, a table gives
// every operation's shape, each version's time and the one chosen, and the choices are in
// IndexedDB: after a reload the page lists them as stored for this GPU.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, launchBrowser, startBridgeProcess, type RunningBridge } from '../helpers/browser.ts';
import { closeAll, skipNote } from '../helpers/e2e.ts';

describe.skipIf(!!browserSkipReason)(`kernel tuning on the Model page${skipNote}`, () => {
  let bridge: RunningBridge;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    bridge = await startBridgeProcess();
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.goto(bridge.url);
    await page.goto(new URL('#/model', bridge.origin).href);
  });
  afterAll(() => closeAll({ browser, bridge }));

  it('tunes the demo model with progress, shows each version per shape, and stores the choices', async () => {
    await page.click('[data-testid="download-homecoder/demo-coder-random"]');
    const row = await page.waitForSelector('[data-testid="cached-model"][data-id="homecoder--demo-coder-random"][data-complete="true"]', {
      timeout: 60_000,
    });
    await (await row.$('[data-testid="load"]'))!.click();
    await page.waitForSelector('[data-testid="tune-stored"][data-count="0"]', { timeout: 60_000 }); // nothing tuned yet
    await page.fill('[data-testid="tune-seq-len"]', '32'); // a short training shape: SwiftShader is slow
    await page.click('[data-testid="tune-run"]');
    const bar = await page.waitForSelector('[data-testid="kernel-tuning"] [data-testid="progress"][data-phase="tuning kernels"]', {
      timeout: 60_000,
    });
    expect(Number(await bar.getAttribute('data-total'))).toBeGreaterThan(3);
    await page.waitForSelector('[data-testid="tune-results"]', { timeout: 170_000 });
    const rows = await page.$$eval('[data-testid="tune-result"]', (trs) =>
      trs.map((tr) => ({ op: tr.getAttribute('data-op'), chosen: tr.getAttribute('data-chosen'), text: tr.textContent ?? '' })),
    );
    // Every operation the engine tunes, each with its versions' times and a chosen one among them.
    expect(new Set(rows.map((r) => r.op))).toEqual(new Set(['linear', 'linear-dx', 'gemv', 'attention', 'attention-cached']));
    for (const r of rows) {
      expect(r.text).toContain(`${r.chosen}: `);
      expect(r.text).toMatch(/\d ms/);
    }
    const attention = rows.find((r) => r.op === 'attention')!;
    expect(attention.text).toContain('attention.simple');
    expect(attention.text).toContain('attention.flash');
    const count = Number(await page.getAttribute('[data-testid="tune-stored"]', 'data-count'));
    expect(count).toBe(rows.length);

    // The choices are in IndexedDB: after a reload (the model comes back by itself) they are listed as stored.
    await page.reload();
    const stored = await page.waitForSelector(`[data-testid="tune-stored"][data-count="${count}"]`, { timeout: 90_000 });
    expect(await stored.textContent()).toContain('kernels r');
  });
});
