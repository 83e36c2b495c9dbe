// The Model page in headless Chromium: download a (generated, sharded) model from a
// hub-shaped server into OPFS with progress, reload mid-download and resume, load it on
// the GPU in the worker, and get the same loss as the headless `homecoder loss`; the
// same model picked as a folder; an unsupported architecture refused before any weight.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import { browserSkipReason, launchBrowser, startBridgeProcess, type RunningBridge } from '../helpers/browser.ts';
import { closeAll, skipNote } from '../helpers/e2e.ts';
import { startMockHub, type MockHub } from '../helpers/mock-hub.ts';

const TEXT = 'def add(a, b):\n    return a + b\n';

describe.skipIf(!!browserSkipReason)(`Model page${skipNote}`, () => {
  const model = makeTinyModel({ arch: 'qwen2', layers: 2, hidden: 64, shards: 2, seed: 7 });
  const bad = new Map(model.files);
  bad.set('config.json', new TextEncoder().encode(JSON.stringify({ architectures: ['RwkvForCausalLM'] })));
  let hub: MockHub;
  let bridge: RunningBridge;
  let browser: Browser;
  let page: Page;
  let dir: string;
  let headlessLoss: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hc-e2e-model-'));
    const modelDir = join(dir, 'tiny-coder');
    mkdirSync(modelDir);
    for (const [n, b] of model.files) writeFileSync(join(modelDir, n), b);
    writeFileSync(join(dir, 'text.txt'), TEXT);
    const r = runCli('loss', '--model', modelDir, '--text', join(dir, 'text.txt'), '--json');
    headlessLoss = (JSON.parse(r.stdout) as { loss: number }).loss;
    hub = await startMockHub(
      new Map([
        ['test/tiny-coder', model.files],
        ['test/rwkv', bad],
      ]),
    );
    bridge = await startBridgeProcess(['--hub-origin', hub.url]); // the test hub on loopback: allowed by the page's CSP
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.goto(bridge.url); // the printed link, as a user opens it: sets the tab's cookie
    await page.goto(new URL('#/model', bridge.origin).href);
    await page.click('details summary');
    await page.fill('[data-testid="hub-endpoint"]', hub.url);
  });
  /** Waits for `source` to be the loaded model, then computes its loss on TEXT in the page. */
  async function lossOfLoaded(source: string): Promise<number> {
    await page.waitForSelector(`[data-testid="loaded-model"] >> text=${source}`, { timeout: 60_000 });
    await page.fill('[data-testid="loss-text"]', TEXT);
    await page.click('[data-testid="loss-run"]');
    const result = await page.waitForSelector('[data-testid="loss-result"]', { timeout: 60_000 });
    return Number(await result.getAttribute('data-loss'));
  }
  afterAll(() => closeAll({ browser, bridge, servers: [hub], dirs: [dir] }));

  it('downloads with progress, resumes after a reload, and loads with the headless loss', async () => {
    hub.throttle = 60_000; // bytes/s for the weights: slow enough to reload mid-way
    await page.fill('[data-testid="repo-input"]', 'test/tiny-coder');
    await page.click('[data-testid="repo-download"]');
    await page.waitForFunction(
      () => {
        const p = document.querySelector('[data-testid="progress"][data-phase="downloading"]');
        return p && Number(p.getAttribute('data-done')) > 0.3 * Number(p.getAttribute('data-total'));
      },
      undefined,
      { timeout: 60_000 },
    );
    const progressText = await page.textContent('[data-testid="progress"]');
    expect(progressText).toMatch(/downloading \d+%.*MiB\/s/);
    await page.reload();
    hub.throttle = 0;
    const row = await page.waitForSelector('[data-testid="cached-model"][data-complete="false"]');
    const before = hub.log.length;
    await (await row.$('[data-testid="resume"]'))!.click();
    await page.waitForSelector('[data-testid="cached-model"][data-complete="true"]', { timeout: 60_000 });
    const resumed = hub.log.slice(before).filter((r) => r.method === 'GET' && r.range && r.range !== 'bytes=0-');
    expect(resumed.length).toBeGreaterThan(0); // continued from the stored bytes
    await page.click('[data-testid="cached-model"] [data-testid="load"]');
    const loss = await lossOfLoaded('tiny-coder');
    console.log(`[e2e tests] loss in the browser ${loss} vs headless ${headlessLoss}`);
    // Two software GPUs (SwiftShader here, lavapipe headless), both f32: 1e-4 relative.
    expect(Math.abs(loss - headlessLoss) / headlessLoss).toBeLessThan(1e-4);
  });

  it('loads the same model from a picked folder, in place', async () => {
    await page.setInputFiles('[data-testid="folder-input"]', join(dir, 'tiny-coder'));
    const loss = await lossOfLoaded('folder:tiny-coder');
    expect(Math.abs(loss - headlessLoss) / headlessLoss).toBeLessThan(1e-4);
  });

  it('copies a picked folder into browser storage when asked, and loads it from there', async () => {
    await page.check('[data-testid="folder-copy"]');
    await page.setInputFiles('[data-testid="folder-input"]', join(dir, 'tiny-coder'));
    const row = await page.waitForSelector('[data-testid="cached-model"][data-id="local--tiny-coder"][data-complete="true"]', {
      timeout: 60_000,
    });
    await (await row.$('[data-testid="load"]'))!.click();
    const loss = await lossOfLoaded('local/tiny-coder'); // shown by its repository id, as listed
    expect(Math.abs(loss - headlessLoss) / headlessLoss).toBeLessThan(1e-4);
  });

  it('gets the demo model from the bridge itself (offline) and runs it', async () => {
    await page.click('[data-testid="download-homecoder/demo-coder-random"]');
    const row = await page.waitForSelector('[data-testid="cached-model"][data-id="homecoder--demo-coder-random"][data-complete="true"]', {
      timeout: 60_000,
    });
    await (await row.$('[data-testid="load"]'))!.click();
    const loss = await lossOfLoaded('homecoder/demo-coder-random');
    // Random weights: the loss is near log(vocabulary), far from a trained model's.
    expect(loss).toBeGreaterThan(2);
    expect(Number.isFinite(loss)).toBe(true);
  });

  it('plans memory before any download, with the headless planner’s figures', async () => {
    const planned = runCli('plan', '--config', 'src/model/configs/Qwen2.5-Coder-1.5B.json', '--seq-len', '2048', '--json').json() as {
      total: number;
    };
    await page.selectOption('[data-testid="plan-model"]', 'Qwen/Qwen2.5-Coder-1.5B');
    await page.fill('[data-testid="plan-gib"]', '3');
    await page.fill('[data-testid="plan-seq"]', '2048');
    await page.click('[data-testid="plan-run"]');
    const table = await page.waitForSelector('[data-testid="plan-result"]');
    // The browser's binding-size limit may chunk the weights differently: equal within a few KiB.
    expect(Math.abs(Number(await table.getAttribute('data-train-total')) - planned.total)).toBeLessThan(64 * 1024);
    expect(await table.getAttribute('data-fits-training')).toBe('false'); // ≈ 4 GiB does not fit in 3
    const maxSeq = Number((await page.textContent('[data-testid="max-seq-training"]'))!.replace(/\D/g, ''));
    expect(maxSeq).toBe(0); // the weights alone are 2.9 GiB
    await page.fill('[data-testid="plan-gib"]', '6');
    await page.click('[data-testid="plan-run"]');
    await page.waitForSelector('[data-testid="plan-result"][data-fits-training="true"]');
  });

  it('refuses an unsupported architecture before downloading any weight', async () => {
    const before = hub.log.length;
    await page.fill('[data-testid="repo-input"]', 'test/rwkv');
    await page.click('[data-testid="repo-download"]');
    const err = await page.waitForSelector('[data-testid="model-error"]', { timeout: 30_000 });
    expect(await err.textContent()).toContain('RwkvForCausalLM is not supported');
    // Thrown in the engine worker, it arrives on the page as the same class with the same code.
    expect({ code: await err.getAttribute('data-code'), kind: await err.getAttribute('data-error') }).toEqual({
      code: 'UNSUPPORTED_ARCHITECTURE',
      kind: 'ModelError',
    });
    expect(hub.log.slice(before).some((r) => r.path.endsWith('.safetensors'))).toBe(false);
  });
});
