// The Train page in headless Chromium (SwiftShader WebGPU) with a tiny generated model
// downloaded from a hub-shaped server: with the default settings the stage-2 step shows its
// cost and how it chooses the threshold, the run starts training (the random model's
// ~7.6-nat losses get a threshold from their own distribution), every long phase shows an
// ETA, Stop says "Stopping…" at once and then what was kept; a too-large setting gives the memory message
// before anything runs; a run over a small repository trains with a live chart and its
// test loss drops; a run reloaded mid-way resumes from its latest checkpoint
// written by time and ends at the planned step with the same final loss as the uninterrupted one; Stop ends within one step; the exported
// .zip is a PEFT adapter that the engine (Node, Dawn) loads and that gives the logged
// test loss.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import type { Browser, Page } from 'playwright-core';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import { memoryFiles } from '../../src/model/storage/files.ts';
import { readPeftAdapter } from '../../src/model/peft.ts';
import { browserSkipReason, launchBrowser, startBridgeProcess, type RunningBridge } from '../helpers/browser.ts';
import { closeAll, skipNote, withNodeEngine } from '../helpers/e2e.ts';
import { startMockHub, type MockHub } from '../helpers/mock-hub.ts';
import { tinyRepo } from '../helpers/tiny-repo.ts';

const STEPS = 12;
const SETTINGS: Record<string, string> = {
  steps: String(STEPS),
  seqLen: '48',
  batchSize: '1',
  lr: '0.003',
  loraR: '4',
  loraAlpha: '8',
  loraDropout: '0.05',
  warmupSteps: '2',
  evalEvery: '4',
  checkpointEvery: '4',
  checkpointMinutes: '0', // by steps only: the checkpoints below are [4, 8, 12]
  seed: '7',
};

describe.skipIf(!!browserSkipReason)(`Train page${skipNote}`, () => {
  const model = makeTinyModel({ arch: 'qwen2', layers: 2, hidden: 64, heads: 4, kvHeads: 2, intermediate: 128, seed: 3 });
  let hub: MockHub;
  let bridge: RunningBridge;
  let browser: Browser;
  let page: Page;
  let dir: string;
  let repoDir: string;
  const status = (attr: string) => page.getAttribute('[data-testid="train-status"]', attr);
  let uninterrupted: { id: string; loss: number };

  async function openTrainPage() {
    await page.goto(new URL('#/train', bridge.origin).href);
    await page.waitForSelector('[data-testid="train-model"] option', { state: 'attached' });
  }
  async function fillSettings(extra: Record<string, string> = {}) {
    await page.setInputFiles('[data-testid="train-files-input"]', repoDir);
    await page.waitForSelector('[data-testid="picked-note"]');
    if (!(await page.isVisible('[data-setting="seed"]'))) await page.click('details.advanced summary');
    for (const [k, v] of Object.entries({ ...SETTINGS, ...extra })) await page.fill(`[data-setting="${k}"]`, v);
    await page.selectOption('[data-setting="lossFilter"]', 'off');
  }
  async function startRun(): Promise<string> {
    const before = await page.$$eval('[data-testid="run"]', (rows) => rows.map((r) => r.getAttribute('data-run-id')));
    await page.click('[data-testid="train-start"]');
    const handle = await page.waitForFunction(
      (old) => {
        const id = document.querySelector('[data-testid="train-status"]')?.getAttribute('data-run-id');
        return id && !old.includes(id) ? id : undefined;
      },
      before,
      { timeout: 60_000 },
    );
    return (await handle.jsonValue()) as string;
  }
  const runRow = (id: string) => `[data-testid="run"][data-run-id="${id}"]`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hc-e2e-train-'));
    repoDir = join(dir, 'tiny-repo');
    for (const f of tinyRepo(8)) {
      mkdirSync(join(repoDir, 'src'), { recursive: true });
      writeFileSync(join(repoDir, f.path), f.text);
    }
    hub = await startMockHub(new Map([['test/tiny-coder', model.files]]));
    bridge = await startBridgeProcess(['--hub-origin', hub.url]); // the test hub on loopback: allowed by the page's CSP
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.goto(bridge.url); // the printed link, as a user opens it: sets the tab's cookie
    page.on('dialog', (d) => void d.accept());
    await page.goto(new URL('#/model', bridge.origin).href);
    await page.click('details summary');
    await page.fill('[data-testid="hub-endpoint"]', hub.url);
    await page.fill('[data-testid="repo-input"]', 'test/tiny-coder');
    await page.click('[data-testid="repo-download"]');
    await page.waitForSelector('[data-testid="cached-model"][data-complete="true"]', { timeout: 60_000 });
    await openTrainPage();
  });
  afterAll(() => closeAll({ browser, bridge, servers: [hub], dirs: [dir] }));

  it('default settings: stage 2 shows its cost and threshold reasoning, training starts, ETAs in every long phase, Stop says what was kept', async () => {
    await page.setInputFiles('[data-testid="train-files-input"]', repoDir);
    await page.waitForSelector('[data-testid="picked-note"]');
    // The stage-2 step is on the page (not under Advanced), automatic, with its cost before it runs.
    expect(await page.inputValue('[data-setting="lossFilter"]')).toBe('auto');
    expect((await page.textContent('[data-testid="loss-step-why"]'))?.replace(/\s+/g, ' ')).toMatch(
      /Refact does.*derived from its own losses/,
    );
    const cost = await page.waitForSelector('[data-testid="loss-step-cost"]');
    expect((await cost.textContent())?.replace(/\s+/g, ' ')).toMatch(/Cost: 8 files, ≈[\d,]+ tokens; 8 to measure/);
    expect((await page.textContent('[data-testid="schedule-preview"]'))?.replace(/\s+/g, ' ')).toMatch(
      /warmup is at most 10% of the steps/,
    );
    // Every progress text and ETA the page shows while the run goes, recorded in the page.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seen: string[] }).seen = seen;
      new MutationObserver(() => {
        for (const el of document.querySelectorAll('[data-testid="progress"], [data-testid="train-eta"]'))
          seen.push((el.textContent ?? '').replace(/\s+/g, ' ').trim());
      }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    const id = await startRun();
    const result = await page.waitForSelector('[data-testid="loss-filter-result"]');
    const kept = Number(await result.getAttribute('data-kept'));
    console.log(`[e2e tests] default loss filter: ${await result.textContent()}`);
    expect(kept).toBeGreaterThanOrEqual(6); // only outliers of the model's own losses go
    expect((await result.textContent())?.replace(/\s+/g, ' ')).toMatch(
      /kept \d of 8 files .*from this model's own losses.*far above Refact's 3/s,
    );
    expect((await page.textContent('[data-testid="schedule"]'))?.replace(/\s+/g, ' ')).toMatch(
      /warmup \d+ steps? \(capped from 20: at most 10% of \d+ steps\) to a peak lr of 3\.0e-4, then linear decay to 0/,
    );
    // Stop once the test loss before training is done, while the first step (8 sequences of 1024
    // tokens by default: slow on SwiftShader) runs: the run stops after it.
    await page.waitForSelector('[data-testid="progress"][data-phase="test loss"]', { timeout: 120_000 });
    await page.waitForFunction(
      () => {
        const p = document.querySelector('[data-testid="progress"]');
        return !p || (p.getAttribute('data-phase') === 'test loss' && p.getAttribute('data-done') === p.getAttribute('data-total'));
      },
      undefined,
      { timeout: 120_000 },
    );
    // Stop: acknowledged at once, then the run says where it stopped and what it kept.
    const t0 = Date.now();
    await page.click('[data-testid="train-stop"]');
    await page.waitForFunction(() => {
      const b = document.querySelector<HTMLButtonElement>('[data-testid="train-stop"]');
      return b?.disabled && b.textContent === 'Stopping…';
    });
    expect(Date.now() - t0).toBeLessThan(1000);
    const msg = await page.waitForSelector('[data-testid="stop-message"]', { timeout: 240_000 });
    expect(await msg.textContent()).toMatch(/^Stopped at step (\d+); checkpoint step \1 saved \(Resume continues from it\)\.$/);
    // Every long phase showed its ETA: the loss filter (with rate), the test loss, and training.
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    const withEta = (phase: string) => seen.filter((t) => t.startsWith(phase) && /ETA \d/.test(t));
    expect(withEta('loss filter').length, seen.join('\n')).toBeGreaterThan(0);
    expect(withEta('loss filter')[0]).toMatch(/loss filter \d+% \(\d\/8\) .* · \d+ tokens\/s · ETA/);
    expect(withEta('test loss').length, seen.join('\n')).toBeGreaterThan(0);
    expect(withEta('ETA').length, seen.join('\n')).toBeGreaterThan(0); // the training figures' ETA
    // The first run of this model shape on this GPU tuned the kernels first (quickly, with progress).
    expect(seen.filter((t) => t.startsWith('tuning kernels')).length, seen.join('\n')).toBeGreaterThan(0);
    await page.waitForSelector(`${runRow(id)}[data-status="stopped"]`);
    // The losses are kept (the cache the Filter page shares): the next start measures nothing.
    const again = await page.waitForSelector('[data-testid="loss-step-cost"][data-cached="8"]');
    expect((await again.textContent())?.replace(/\s+/g, ' ')).toMatch(/all already measured \(Filter page or an earlier run\): no time/);
    await page.click(`${runRow(id)} [data-testid="delete"]`);
    await page.waitForSelector(runRow(id), { state: 'detached' });
  }, 420_000); // a default step is 8 sequences of 1024 tokens: minutes on SwiftShader under load

  it('a setting too large for the GPU memory budget gives the memory message before anything runs', async () => {
    await fillSettings({ seqLen: '4096' });
    await page.fill('[data-setting="gpuMemoryBudget"]', '0.01');
    await page.click('[data-testid="train-start"]');
    const msg = await page.waitForSelector('[data-testid="memory-message"]');
    expect(await msg.textContent()).toMatch(/does not fit.*A sequence length of \d+ tokens fits/);
    expect(await page.$('[data-testid="train-status"]')).toBeNull();
    expect(await page.$$('[data-testid="run"]')).toHaveLength(0);
    await page.fill('[data-setting="gpuMemoryBudget"]', '1');
  });

  it('a setting out of range is refused by the training worker and the page focuses that setting', async () => {
    await fillSettings({ loraDropout: '0.95' });
    await page.click('[data-testid="train-start"]');
    const err = await page.waitForSelector('[data-testid="train-error"]', { timeout: 60_000 });
    expect(await err.textContent()).toContain('loraDropout must be a number in [0, 0.9]');
    expect({ code: await err.getAttribute('data-code'), kind: await err.getAttribute('data-error') }).toEqual({
      code: 'BAD_SETTING',
      kind: 'SettingsError',
    });
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-setting'))).toBe('loraDropout');
    expect(await page.$$('[data-testid="run"]')).toHaveLength(0);
    await page.fill('[data-setting="loraDropout"]', SETTINGS.loraDropout);
  });

  it('when the loss filter leaves too few files, it says which and why, and no run is made', async () => {
    await fillSettings();
    await page.selectOption('[data-setting="lossFilter"]', 'manual');
    await page.fill('[data-setting="lossThreshold"]', '3'); // a random model's loss is ~7.6 nats
    await page.click('[data-testid="train-start"]');
    const err = await page.waitForSelector('[data-testid="train-error"]', { timeout: 60_000 });
    expect(await err.textContent()).toMatch(/loss filter rejected 8 of 8 files \(src\/\w+\.py: high loss 7\.\d+.*raise the loss threshold/);
    // Thrown in the training worker, it arrives on the page as the same class with the same code.
    expect({ code: await err.getAttribute('data-code'), kind: await err.getAttribute('data-error') }).toEqual({
      code: 'TOO_FEW_FILES',
      kind: 'DatasetError',
    });
    expect(await page.$$('[data-testid="run"]')).toHaveLength(0);
    expect(await page.isEnabled('[data-testid="train-start"]')).toBe(true);
    await page.selectOption('[data-setting="lossFilter"]', 'off');
  });

  it('trains over a small repository: the chart updates live and test loss drops below its start', async () => {
    await fillSettings();
    const id = await startRun();
    const seen = new Set<number>();
    for (;;) {
      const points = Number(await page.getAttribute('[data-testid="loss-chart"]', 'data-points').catch(() => '0'));
      seen.add(points);
      if ((await status('data-status')) === 'done' && !(await page.isEnabled('[data-testid="train-stop"]'))) break;
      await page.waitForTimeout(100);
    }
    expect([...seen].filter((n) => n > 0 && n < STEPS).length).toBeGreaterThan(1); // drawn while training
    expect(Number(await page.getAttribute('[data-testid="loss-chart"]', 'data-points'))).toBe(STEPS);
    expect(Number(await status('data-step'))).toBe(STEPS);
    const start = Number(await status('data-start-test-loss'));
    const end = Number(await status('data-test-loss'));
    console.log(`[e2e tests] test loss ${start} → ${end}`);
    expect(end).toBeLessThan(start);
    // The chart's text alternative names the last step and the best test loss.
    const summary = await page.getAttribute('[data-testid="loss-chart"]', 'aria-label');
    expect(summary).toContain(`step ${STEPS}, train loss`);
    expect(summary).toMatch(/best test loss \d+\.\d{3} at step \d+/);
    uninterrupted = { id, loss: Number(await status('data-loss')) };
    // Checkpoints with the best marked. (The evaluation, greedy decoding of every test file, takes
    // ~25 s on SwiftShader: it is tested headless in test/gpu/train-pipeline.test.ts.)
    expect(await page.isVisible(`${runRow(id)} [data-testid="evaluate"]`)).toBe(true);
    expect(
      await page.$$eval(`${runRow(id)} [data-testid="checkpoint"]`, (rows) => rows.map((r) => Number(r.getAttribute('data-step')))),
    ).toEqual([4, 8, 12]);
  });

  it('a run reloaded mid-way resumes from its checkpoint written by time and ends with the same loss as the uninterrupted run', async () => {
    // Checkpoints by time only (every 0.001 min: after every step), none by step count before the end.
    await fillSettings({ checkpointEvery: '100', checkpointMinutes: '0.001' });
    const id = await startRun();
    await page.waitForFunction(
      () => Number(document.querySelector('[data-testid="train-status"]')?.getAttribute('data-step')) >= 5,
      undefined,
      { timeout: 60_000 },
    );
    await page.reload();
    const row = await page.waitForSelector(`${runRow(id)}[data-status="interrupted"]`);
    const at = Number(await row.getAttribute('data-step'));
    expect(at).toBeLessThan(STEPS);
    // Resume continues from the latest checkpoint written by time, and says when it was saved.
    const from = Number(await page.getAttribute(`${runRow(id)} [data-testid="resume"]`, 'data-from'));
    expect(from).toBeGreaterThanOrEqual(4);
    expect(await page.textContent(`${runRow(id)} [data-testid="resume"]`)).toBe(`Resume from step ${from}`);
    expect(await page.textContent(`${runRow(id)} [data-testid="resume-note"]`)).toMatch(/^checkpoint saved (just now|\d+ min ago)/);
    await page.click(`${runRow(id)} [data-testid="resume"]`);
    await page.waitForSelector(`${runRow(id)}[data-status="done"]`, { timeout: 120_000 });
    expect(Number(await page.getAttribute(runRow(id), 'data-step'))).toBe(STEPS);
    const loss = Number(await page.getAttribute(runRow(id), 'data-final-loss'));
    console.log(`[e2e tests] reloaded at step ${at}; final loss ${loss} vs uninterrupted ${uninterrupted.loss}`);
    expect(Math.abs(loss - uninterrupted.loss)).toBeLessThan(1e-4);
  });

  it('Stop ends the run within one step', async () => {
    await fillSettings();
    const id = await startRun();
    await page.waitForFunction(
      () => Number(document.querySelector('[data-testid="train-status"]')?.getAttribute('data-step')) >= 2,
      undefined,
      { timeout: 60_000 },
    );
    const atClick = Number(await status('data-step'));
    await page.click('[data-testid="train-stop"]');
    await page.waitForSelector(`${runRow(id)}[data-status="stopped"]`, { timeout: 30_000 });
    const last = Number(await page.getAttribute(runRow(id), 'data-step'));
    expect(last).toBeGreaterThanOrEqual(atClick);
    expect(last).toBeLessThanOrEqual(atClick + 1);
    expect(await page.textContent('[data-testid="stop-message"]')).toBe(
      `Stopped at step ${last}; checkpoint step ${last} saved (Resume continues from it).`,
    );
    expect(await page.isVisible(`${runRow(id)} [data-testid="resume"]`)).toBe(true);
    // Delete (after a confirmation) removes the run and its checkpoints from browser storage.
    await page.click(`${runRow(id)} [data-testid="delete"]`);
    await page.waitForSelector(runRow(id), { state: 'detached' });
    await page.reload();
    await page.waitForSelector('[data-testid="run"]');
    expect(await page.$(runRow(id))).toBeNull();
  });

  it('the exported .zip is a PEFT adapter the engine loads, giving the logged test loss', async () => {
    const id = uninterrupted.id;
    const best = Number(await page.getAttribute(runRow(id), 'data-best'));
    const logged = Number(await page.getAttribute(`${runRow(id)} [data-testid="checkpoint"][data-step="${best}"]`, 'data-test-loss'));
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(`${runRow(id)} [data-testid="export"]`)]);
    const zip = unzipSync(new Uint8Array(readFileSync((await download.path())!)));
    expect(Object.keys(zip).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    // The engine in Node (Dawn), on the dataset the page built from the same files and seed.
    await withNodeEngine(model.files, async (engine) => {
      const { buildDataset } = await import('../../src/data/dataset/build.ts');
      const { GpuLora } = await import('../../src/gpu/lora.ts');
      const { Transformer } = await import('../../src/gpu/transformer.ts');
      const { packedLoss } = await import('../../src/train/eval-loss.ts');
      const peft = await readPeftAdapter(memoryFiles('zip', new Map(Object.entries(zip))), engine.model.config);
      const files = tinyRepo(8).map((f) => ({ ...f, source: 'picked files' }));
      const data = await buildDataset(files, engine.tokenizer, {
        seqLen: 48,
        seed: 7,
        fim: { fimRate: 0.5, spmRate: 0.5, lineSplitRate: 0.9 },
        testFraction: 0.1,
        repoShare: 0.3, // the page's default (48 tokens hold no two of these files: no repository sequence)
      });
      const adapter = new GpuLora(engine.memory, peft.lora, peft.layers, { trainable: false });
      const tf = new Transformer(engine.runner, engine.memory, engine.model, adapter, { seqLen: 48 });
      const loss = await packedLoss(tf, engine.runner, data.test);
      console.log(`[e2e tests] exported adapter: test loss ${loss} in Node vs ${logged} logged in the browser`);
      // Two software GPUs (SwiftShader in Chromium, lavapipe in Node), both f32: 1e-4 relative.
      expect(Math.abs(loss - logged) / logged).toBeLessThan(1e-4);
    });
  });

  it('the run’s checkpoints are listed as adapters on the Use page, the best one marked', async () => {
    const id = uninterrupted.id;
    const best = Number(await page.getAttribute(runRow(id), 'data-best'));
    await page.goto(new URL('#/use', bridge.origin).href);
    const row = (step: number) => `[data-testid="adapter"][data-id="runs/${id}/checkpoints/step-${String(step).padStart(6, '0')}"]`;
    for (const step of [4, 8, 12]) await page.waitForSelector(row(step), { timeout: 30_000 });
    expect(await page.textContent(row(best))).toContain('★ best');
    for (const step of [4, 8, 12].filter((x) => x !== best)) expect(await page.textContent(row(step))).not.toContain('★ best');
  });

  it('after a reload, the model that was loaded and the adapter that was served come back by themselves', async () => {
    const id = uninterrupted.id;
    await openTrainPage();
    const best = Number(await page.getAttribute(runRow(id), 'data-best'));
    await page.goto(new URL('#/model', bridge.origin).href);
    await page.click('[data-testid="cached-model"] [data-testid="load"]');
    await page.waitForSelector('[data-testid="loaded-model"]', { timeout: 60_000 });
    await page.goto(new URL('#/use', bridge.origin).href);
    const row = `[data-testid="adapter"][data-id="runs/${id}/checkpoints/step-${String(best).padStart(6, '0')}"]`;
    await page.check(`${row} [data-testid="adapter-use"]`);
    await page.click('[data-testid="serve-adapters"]');
    await page.waitForSelector('[data-testid="serving"][data-adapters="1"]', { timeout: 60_000 });
    await page.reload();
    // The page says it is bringing them back, then serves them without a click.
    const note = await page.waitForSelector('[data-testid="restore"]', { timeout: 30_000 });
    expect(await note.textContent()).toMatch(/test\/tiny-coder with run-[^ ]+ · step \d+/);
    await page.waitForSelector('[data-testid="restore"][data-state="done"]', { timeout: 60_000 });
    await page.waitForSelector('[data-testid="serving"][data-adapters="1"]', { timeout: 30_000 });
    await page.goto(new URL('#/model', bridge.origin).href);
    expect(await (await page.waitForSelector('[data-testid="loaded-model"]')).textContent()).toContain('test/tiny-coder');
  });

  it('repository sequences: with room for several files per sequence, the run says how many it made', async () => {
    await openTrainPage();
    // 256 tokens hold about three of the tiny repository's files: every run of them becomes one sequence.
    await fillSettings({ seqLen: '256', repoShare: '1', steps: '2', evalEvery: '2', checkpointEvery: '2' });
    const id = await startRun();
    const shown = await page.waitForSelector('[data-testid="repo-sequences"]', { timeout: 60_000 });
    expect(Number(await shown.getAttribute('data-sequences'))).toBeGreaterThan(0);
    expect(Number(await shown.getAttribute('data-files'))).toBeGreaterThanOrEqual(2 * Number(await shown.getAttribute('data-sequences')));
    expect(await shown.textContent()).toMatch(/\d+ repository sequences \(\d+ files trained together\)/);
    await page.waitForSelector(`${runRow(id)}[data-status="done"]`, { timeout: 180_000 });
  });
});
