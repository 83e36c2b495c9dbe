// The stage-2 loss filter on the Filter page, in headless Chromium (SwiftShader WebGPU in
// the training worker): without accepted files or a downloaded model it says what to do;
// with a folder imported and a tiny generated model downloaded from a hub-shaped server it
// measures each accepted file's mean loss, equal (1e-4 relative) to the same windows scored
// headless in Node (Dawn); a threshold between the smallest and largest loss rejects exactly
// the files above it, marked "high loss"; the result is still there after leaving the page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import { browserSkipReason, launchBrowser, startBridgeProcess, type RunningBridge } from '../helpers/browser.ts';
import { closeAll, skipNote, withNodeEngine } from '../helpers/e2e.ts';
import { startMockHub, type MockHub } from '../helpers/mock-hub.ts';
import { tinyRepo } from '../helpers/tiny-repo.ts';

interface LossRow {
  path: string;
  loss: number;
  tokens: number;
  accepted: boolean;
  reason: string;
}

describe.skipIf(!!browserSkipReason)(`Filter page, stage 2 (loss filter)${skipNote}`, () => {
  const model = makeTinyModel({ arch: 'qwen2', layers: 2, hidden: 64, heads: 4, kvHeads: 2, intermediate: 128, seed: 3 });
  // Four near-identical modules and one of a different kind, so the losses spread.
  const files = [
    ...tinyRepo(4),
    {
      path: 'src/table.py',
      text:
        'TABLE = [\n' +
        Array.from({ length: 12 }, (_, i) => `    (${i}, "${String.fromCharCode(97 + i).repeat(i + 1)}", ${(i * 7) % 5}),\n`).join('') +
        ']\n',
      source: '',
      test: false,
    },
  ];
  let hub: MockHub;
  let bridge: RunningBridge;
  let browser: Browser;
  let page: Page;
  let dir: string;
  let progressSeen: string[] = [];

  const goto = (hash: string) => page.goto(new URL(hash, bridge.origin).href);
  async function filterPageSettled(accepted: number) {
    await goto('#/filter');
    await page.waitForSelector(`[data-testid="filter-summary"][data-accepted="${accepted}"]`, { timeout: 60_000 });
    await page.waitForSelector('[data-testid="progress"]', { state: 'detached', timeout: 60_000 });
  }
  /** Computes at a threshold; returns the rows shown and the progress reports seen meanwhile. */
  async function computeAt(threshold: number): Promise<LossRow[]> {
    await page.fill('[data-testid="loss-threshold"]', String(threshold));
    // Every progress report the section shows, recorded in the page as it happens.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { lossProgress: string[] }).lossProgress = seen;
      const root = document.querySelector('[data-testid="loss-filter"]')!;
      new MutationObserver(() => {
        const p = root.querySelector('[data-testid="progress"]');
        if (p) seen.push(`${p.getAttribute('data-phase')} ${p.getAttribute('data-done')}/${p.getAttribute('data-total')}`);
      }).observe(root, { subtree: true, childList: true, attributes: true });
    });
    await page.click('[data-testid="loss-compute"]');
    await page.waitForSelector(`[data-testid="loss-summary"][data-threshold="${threshold}"]`, { timeout: 120_000 });
    expect(await page.$('[data-testid="loss-error"]')).toBeNull();
    expect(await page.$('[data-testid="loss-filter"] [data-testid="progress"]')).toBeNull();
    progressSeen = await page.evaluate(() => (window as unknown as { lossProgress: string[] }).lossProgress);
    return page.$$eval('[data-testid="loss-row"]', (els) =>
      els.map((e) => ({
        path: e.getAttribute('data-path')!,
        loss: Number(e.getAttribute('data-loss')),
        tokens: Number(e.getAttribute('data-tokens')),
        accepted: e.getAttribute('data-accepted') === 'true',
        reason: e.getAttribute('data-reason')!,
      })),
    );
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hc-e2e-loss-'));
    mkdirSync(join(dir, 'repo', 'src'), { recursive: true });
    for (const f of files) writeFileSync(join(dir, 'repo', f.path), f.text);
    hub = await startMockHub(new Map([['test/tiny-coder', model.files]]));
    bridge = await startBridgeProcess(['--hub-origin', hub.url]); // the test hub on loopback: allowed by the page's CSP
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.goto(bridge.url); // the printed link, as a user opens it: sets the tab's cookie
  });
  afterAll(() => closeAll({ browser, bridge, servers: [hub], dirs: [dir] }));

  it('says what to do when there are no accepted files and no downloaded model', async () => {
    await goto('#/sources');
    await page.setInputFiles('[data-testid="files-input"]', {
      name: 'blob.bin',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from(Uint8Array.from({ length: 4096 }, (_, i) => (i * 131) % 256)),
    });
    await page.waitForSelector('[data-testid="source-row"][data-name="blob.bin"]');
    await filterPageSettled(0);
    expect(await (await page.waitForSelector('[data-testid="loss-no-files"]')).textContent()).toMatch(/add sources on the Sources page/);
    expect(await (await page.waitForSelector('[data-testid="loss-no-model"]')).textContent()).toMatch(
      /download a base model on the Model page/,
    );
    expect(await page.$('[data-testid="loss-compute"]')).toBeNull();
  });

  it('measures each accepted file as the headless loss filter does, and rejects exactly the files above the threshold', async () => {
    await goto('#/sources');
    await page.setInputFiles('[data-testid="folder-input"]', join(dir, 'repo'));
    await page.waitForSelector('[data-testid="source-row"][data-name="repo"]', { timeout: 60_000 });
    await goto('#/model');
    await page.click('details summary');
    await page.fill('[data-testid="hub-endpoint"]', hub.url);
    await page.fill('[data-testid="repo-input"]', 'test/tiny-coder');
    await page.click('[data-testid="repo-download"]');
    await page.waitForSelector('[data-testid="cached-model"][data-complete="true"]', { timeout: 60_000 });
    await filterPageSettled(files.length);
    await page.waitForSelector('[data-testid="loss-model"] option', { state: 'attached' });
    expect(await page.$('[data-testid="loss-no-model"]')).toBeNull();

    // A threshold nothing reaches: every file kept, with its loss.
    const all = await computeAt(100);
    expect(all.map((r) => r.path).sort()).toEqual(files.map((f) => f.path).sort());
    expect(all.every((r) => r.accepted && r.reason === '')).toBe(true);
    expect(await page.getAttribute('[data-testid="loss-summary"]', 'data-kept')).toBe(String(files.length));
    const shown = all.map((r) => r.loss);
    expect(shown).toEqual([...shown].sort((a, b) => b - a)); // highest loss first
    expect(progressSeen).toContain(`loss filter 1/${files.length}`); // the bar moved file by file

    // The same files scored headless: the shared lossFilter on Dawn in Node, with the
    // worker's window (2048 tokens, so one window per file here). Two software GPUs, both
    // f32: 1e-4 relative.
    await withNodeEngine(model.files, async (engine) => {
      const { lossFilter } = await import('../../src/train/loss-filter.ts');
      const headless = await lossFilter(engine, engine.tokenizer, files, { modelId: 'tiny', seqLen: 2048, threshold: 100 });
      for (const h of headless) {
        const row = all.find((r) => r.path === h.path)!;
        console.log(`[e2e tests] ${h.path}: loss ${row.loss} in the browser, ${h.loss} headless; ${row.tokens} tokens`);
        expect(Math.abs(row.loss - h.loss!) / h.loss!).toBeLessThan(1e-4);
        expect(row.tokens).toBe(h.tokens);
        expect(row.tokens).toBe(engine.tokenizer.encode(files.find((f) => f.path === h.path)!.text).length + 1);
      }
    });

    // A threshold in the widest gap between the losses: the files above it are rejected.
    const sorted = [...shown].sort((a, b) => a - b);
    let gap = 0;
    for (let i = 1; i < sorted.length; i++) if (sorted[i] - sorted[i - 1] > sorted[gap + 1] - sorted[gap]) gap = i - 1;
    const threshold = Number(((sorted[gap] + sorted[gap + 1]) / 2).toFixed(6));
    expect(sorted[gap + 1] - sorted[gap]).toBeGreaterThan(1e-4);
    const split = await computeAt(threshold);
    const above = all
      .filter((r) => r.loss > threshold)
      .map((r) => r.path)
      .sort();
    expect(above.length).toBeGreaterThan(0);
    expect(above.length).toBeLessThan(files.length);
    expect(
      split
        .filter((r) => !r.accepted)
        .map((r) => r.path)
        .sort(),
    ).toEqual(above);
    for (const r of split) {
      expect(r.reason).toBe(r.accepted ? '' : 'high loss');
      expect(r.loss).toBe(all.find((a) => a.path === r.path)!.loss); // from the worker's cache
    }
    const kept = files.length - above.length;
    expect(await page.getAttribute('[data-testid="loss-summary"]', 'data-kept')).toBe(String(kept));
    expect(await page.textContent('[data-testid="loss-summary"]')).toMatch(new RegExp(`${kept}\\s+of ${files.length} kept`));

    // Leaving the page and coming back keeps the result.
    await goto('#/train');
    await page.waitForSelector('[data-testid="train-start"]');
    await goto('#/filter');
    await page.waitForSelector(`[data-testid="loss-summary"][data-threshold="${threshold}"][data-kept="${kept}"]`);
    expect(await page.$$('[data-testid="loss-row"]')).toHaveLength(files.length);
  });
});
