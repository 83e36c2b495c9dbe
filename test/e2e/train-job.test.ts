// The Train page's way out of a run that does not fit: with a GPU memory budget far too small
// the memory check refuses the run, and "Export as a cluster job" writes the job into browser
// storage with progress and offers it as a .zip download, without the memory check. The zip
// holds settings.json (the page's settings), dataset JSONL whose blocks decode back to the
// picked files, train.py (it compiles), and the same dataset `homecoder export --format job`
// builds from the same folder and settings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import type { Browser, Page } from 'playwright-core';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import { memoryFiles } from '../../src/model/storage/files.ts';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';
import { browserSkipReason, launchBrowser, startBridgeProcess, type RunningBridge } from '../helpers/browser.ts';
import { runCli } from '../helpers/cli.ts';
import { closeAll, skipNote } from '../helpers/e2e.ts';
import { startMockHub, type MockHub } from '../helpers/mock-hub.ts';
import { tinyRepo } from '../helpers/tiny-repo.ts';

const SETTINGS: Record<string, string> = {
  steps: '6',
  seqLen: '48',
  batchSize: '2',
  loraR: '4',
  loraAlpha: '8',
  warmupSteps: '1',
  seed: '9',
};

describe.skipIf(!!browserSkipReason)(`Train page: export as a cluster job${skipNote}`, () => {
  const model = makeTinyModel({ arch: 'qwen2', layers: 2, hidden: 64, heads: 4, kvHeads: 2, intermediate: 128, seed: 3 });
  let hub: MockHub;
  let bridge: RunningBridge;
  let browser: Browser;
  let page: Page;
  let dir: string;
  let repoDir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hc-e2e-job-'));
    repoDir = join(dir, 'tiny-repo');
    mkdirSync(join(repoDir, 'src'), { recursive: true });
    for (const f of tinyRepo(8)) writeFileSync(join(repoDir, f.path), f.text);
    hub = await startMockHub(new Map([['test/tiny-coder', model.files]]));
    bridge = await startBridgeProcess(['--hub-origin', hub.url]);
    browser = await launchBrowser();
    page = await browser.newPage({ acceptDownloads: true });
    await page.goto(bridge.url);
    await page.goto(new URL('#/model', bridge.origin).href);
    await page.click('details summary');
    await page.fill('[data-testid="hub-endpoint"]', hub.url);
    await page.fill('[data-testid="repo-input"]', 'test/tiny-coder');
    await page.click('[data-testid="repo-download"]');
    await page.waitForSelector('[data-testid="cached-model"][data-complete="true"]', { timeout: 60_000 });
    await page.goto(new URL('#/train', bridge.origin).href);
    await page.waitForSelector('[data-testid="train-model"] option', { state: 'attached' });
  });
  afterAll(() => closeAll({ browser, bridge, servers: [hub], dirs: [dir] }));

  it('a run over the memory budget is offered as a cluster job: a .zip with settings, decodable dataset and train.py', async () => {
    await page.fill('[data-testid="test-pattern"]', '/(eta|theta)\\.py$');
    await page.setInputFiles('[data-testid="train-files-input"]', repoDir);
    await page.waitForSelector('[data-testid="picked-note"]');
    if (!(await page.isVisible('[data-setting="seed"]'))) await page.click('details.advanced summary');
    for (const [k, v] of Object.entries(SETTINGS)) await page.fill(`[data-setting="${k}"]`, v);
    await page.fill('[data-setting="gpuMemoryBudget"]', '0.0001'); // 105 KB: less than the weights alone
    await page.click('[data-testid="train-start"]');
    expect(await (await page.waitForSelector('[data-testid="memory-message"]')).textContent()).toMatch(/does not fit/);
    expect(await page.$('[data-testid="train-status"]')).toBeNull();

    // Progress is shown while the worker writes (recorded in the page: it can be quick).
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seen: string[] }).seen = seen;
      new MutationObserver(() => {
        for (const el of document.querySelectorAll('[data-testid="job-export"] [data-testid="progress"]'))
          seen.push(el.getAttribute('data-phase') ?? '');
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await page.click('[data-testid="job-export-start"]');
    const link = await page.waitForSelector('[data-testid="job-export-download"]', { timeout: 120_000 });
    expect(await link.textContent()).toBe('tiny-coder-job.zip');
    expect(await page.evaluate(() => (window as unknown as { seen: string[] }).seen)).toContain('writing the job');
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const zipPath = await download.path();
    const files = unzipSync(readFileSync(zipPath));
    const text = (n: string) => new TextDecoder().decode(files[n]);
    expect(Object.keys(files)).toEqual(expect.arrayContaining(['settings.json', 'dataset/train.jsonl', 'dataset/test.jsonl', 'train.py']));

    const job = JSON.parse(text('settings.json'));
    expect(job.settings).toMatchObject({ steps: 6, seqLen: 48, batchSize: 2, loraR: 4, loraAlpha: 8, warmupSteps: 1, seed: 9 });
    expect(job.settings.gpuMemoryBudget).toBe(0.0001 * 2 ** 30);
    expect(job.steps).toBe(6);
    expect(job.model.label).toBe('test/tiny-coder');
    expect(job.dataset).toMatchObject({ trainFiles: 6, testFiles: 2, split: 'marked' });

    // Every line decodes, its mask covers its ids, and the tokens are the picked files' code.
    const tok = await ModelTokenizer.load(memoryFiles('tiny', model.files));
    const rows = text('dataset/train.jsonl')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { input_ids: number[]; loss_mask: number[] });
    expect(rows.length).toBeGreaterThan(2);
    for (const [i, r] of rows.entries()) {
      if (i < rows.length - 1) expect(r.input_ids).toHaveLength(48); // the last block may be shorter
      expect(r.loss_mask).toHaveLength(r.input_ids.length);
      expect(r.loss_mask.every((m) => m === 0 || m === 1)).toBe(true);
    }
    const decoded = rows.map((r) => tok.decode(r.input_ids)).join('');
    expect(decoded).toContain('print("hello world", i)');
    expect(decoded).toContain('self.x = x');

    const trainPy = join(dir, 'train.py');
    writeFileSync(trainPy, files['train.py']);
    const compiled = spawnSync('python3', ['-m', 'py_compile', trainPy], { encoding: 'utf8' });
    expect(compiled.status, compiled.stderr).toBe(0);

    // The CLI builds the same dataset from the same folder and settings.
    const flags = [
      '--steps',
      '6',
      '--seq-len',
      '48',
      '--batch-size',
      '2',
      '--lora-r',
      '4',
      '--lora-alpha',
      '8',
      '--warmup',
      '1',
      '--seed',
      '9',
    ];
    const modelDir = join(dir, 'model');
    mkdirSync(modelDir);
    for (const [n, b] of model.files) writeFileSync(join(modelDir, n), b);
    const out = join(dir, 'cli-job');
    const r = runCli(
      'export',
      '--quiet',
      '--model',
      modelDir,
      '--source',
      repoDir,
      '--test-files',
      'src/{eta,theta}.py',
      ...flags,
      '--format',
      'job',
      '--out',
      out,
    );
    expect(r.status, r.stderr).toBe(0);
    for (const n of ['dataset/train.jsonl', 'dataset/test.jsonl']) expect(text(n)).toBe(readFileSync(join(out, n), 'utf8'));
  });
});
