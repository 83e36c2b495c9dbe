// The run loop on real WebGPU (Dawn, software Vulkan) with a tiny generated model:
// test loss drops, checkpoints are stored with the optimizer state, a run stopped or cut
// off mid-way resumes from its latest checkpoint and ends with the same loss as an
// uninterrupted run, the best checkpoint's adapter loads back and gives the logged test
// loss, and a run that does not fit is refused before anything is allocated.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { testDevice, gpuSkipReason, skipNote } from '../helpers/gpu.ts';
import { tinyRepo } from '../helpers/tiny-repo.ts';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import { memoryFiles } from '../../src/model/storage/files.ts';
import { openRunModel, type OpenedRunModel } from '../../src/train/run-model.ts';
import { buildDataset } from '../../src/data/dataset/build.ts';
import { createRun, trainRun, MemoryCheckError } from '../../src/train/run.ts';
import { memoryRunFolder, type RunFolder } from '../../src/train/run-folder.ts';
import { listCheckpoints, readCheckpointAdapter, checkpointDir } from '../../src/train/checkpoint.ts';
import { validateSettings, type TrainSettings } from '../../src/train/settings.ts';
import { GpuLora } from '../../src/gpu/lora.ts';
import { Transformer } from '../../src/gpu/transformer.ts';
import { packedLoss } from '../../src/train/eval-loss.ts';
import type { RunRecord } from '../../src/train/run-record.ts';
import { readRunDataset } from '../../src/train/run.ts';

const SETTINGS: Partial<TrainSettings> = {
  seqLen: 48,
  batchSize: 2,
  steps: 12,
  evalEvery: 4,
  checkpointEvery: 4,
  checkpointMinutes: 0, // by steps only here; the test below checkpoints by time
  lr: 3e-3,
  warmupSteps: 2,
  loraR: 4,
  loraAlpha: 8,
  loraDropout: 0.05,
  seed: 7,
  gpuMemoryBudget: 2 ** 30,
};

describe.skipIf(!!gpuSkipReason)(`training runs${skipNote}`, () => {
  let engine: OpenedRunModel;
  const model = makeTinyModel({ arch: 'qwen2', layers: 2, hidden: 64, heads: 4, kvHeads: 2, intermediate: 128, seed: 3 });
  const settings = validateSettings(SETTINGS);

  async function newRun(id: string, over: Partial<TrainSettings> = {}): Promise<RunFolder> {
    const run = memoryRunFolder();
    const dataset = await buildDataset(tinyRepo(8), engine.tokenizer, {
      seqLen: settings.seqLen,
      seed: settings.seed,
      fim: { fimRate: 0.5, spmRate: 0.5, lineSplitRate: 0.9 },
      testFraction: 0.1,
    });
    await createRun(run, { id, model: { id: 'tiny', label: 'tiny' }, settings: { ...settings, ...over }, dataset, engine });
    return run;
  }
  let full: RunRecord;
  let fullRun: RunFolder;

  beforeAll(async () => {
    const { device } = await testDevice();
    engine = await openRunModel(device, memoryFiles('tiny', model.files));
  });
  afterAll(() => engine?.close());

  it('trains: test loss drops below its start, checkpoints every N steps, best marked', async () => {
    fullRun = await newRun('full');
    const updates: number[] = [];
    full = await trainRun(engine, fullRun, { onUpdate: (_r, live) => updates.push(live.step) });
    expect(full.status).toBe('done');
    expect(updates).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(full.log.map((l) => l.step)).toEqual(updates);
    expect(full.evals.map((e) => e.step)).toEqual([0, 4, 8, 12]);
    const start = full.evals[0].testLoss;
    const end = full.evals.at(-1)!.testLoss;
    console.log(
      `[gpu tests] test loss ${start.toFixed(4)} → ${end.toFixed(4)}; train loss ${full.log[0].loss.toFixed(4)} → ${full.log.at(-1)!.loss.toFixed(4)}`,
    );
    expect(end).toBeLessThan(start - 0.1);
    expect(await listCheckpoints(fullRun)).toEqual([4, 8, 12]);
    expect(full.best).toBe(full.checkpoints.reduce((b, c) => (c.testLoss! < b.testLoss! ? c : b)).step);
    // Warmup then linear decay.
    expect(full.log[0].lr).toBeLessThan(full.log[2].lr);
    expect(full.log[11].lr).toBeLessThan(full.log[3].lr);
  });

  it('low memory mode recomputes more and trains the same run (same losses)', async () => {
    const low = await trainRun(engine, await newRun('low-memory', { lowMemory: true }));
    // The same kernels in the same order on the same inputs: the recomputed inputs are bit-identical.
    expect(low.log.map((l) => l.loss)).toEqual(full.log.map((l) => l.loss));
    expect(low.evals.map((e) => e.testLoss)).toEqual(full.evals.map((e) => e.testLoss));
  });

  it('Stop ends within one step and saves where it stopped; Resume after a crash ends with the same loss', async () => {
    const run = await newRun('resumed');
    const ctl = new AbortController();
    await expect(
      trainRun(engine, run, { signal: ctl.signal, onUpdate: (_r, live) => live.step === 6 && ctl.abort() }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    const stopped = JSON.parse(new TextDecoder().decode((await run.read('run.json'))!)) as RunRecord;
    expect(stopped.status).toBe('stopped');
    expect(stopped.log.at(-1)!.step).toBe(6); // no step after Stop
    expect(await listCheckpoints(run)).toEqual([4, 6]);
    // A crash (page reload) loses what was not checkpointed: drop the Stop checkpoint, resume from step 4.
    await run.remove(checkpointDir(6));
    const resumed = await trainRun(engine, run);
    expect(resumed.status).toBe('done');
    expect(resumed.log.map((l) => l.step)).toEqual(full.log.map((l) => l.step));
    const a = full.log.at(-1)!.loss;
    const b = resumed.log.at(-1)!.loss;
    console.log(`[gpu tests] final loss uninterrupted ${a} vs resumed ${b}`);
    expect(Math.abs(a - b)).toBeLessThan(1e-4);
    expect(Math.abs(full.evals.at(-1)!.testLoss - resumed.evals.at(-1)!.testLoss)).toBeLessThan(1e-4);
  });

  it('checkpoints by time and on request change no loss, and a resume from one is bit-identical', async () => {
    // 1e-6 minutes: a checkpoint after every step, as a long run gets one every few minutes.
    const run = await newRun('by-time', { checkpointMinutes: 1e-6 });
    let asked = false;
    const timed = await trainRun(engine, run, { checkpointRequested: () => !asked && (asked = true) });
    expect(timed.log.map((l) => l.loss)).toEqual(full.log.map((l) => l.loss));
    expect(timed.evals.map((e) => e.testLoss)).toEqual(full.evals.map((e) => e.testLoss));
    expect(await listCheckpoints(run)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // A reload after step 6 with the last checkpoint written by time at step 5 (not a multiple of 4).
    for (const step of [6, 7, 8, 9, 10, 11, 12]) await run.remove(checkpointDir(step));
    const record = JSON.parse(new TextDecoder().decode((await run.read('run.json'))!)) as RunRecord;
    record.status = 'running';
    record.log = record.log.filter((l) => l.step <= 6);
    await run.write('run.json', new TextEncoder().encode(JSON.stringify(record)));
    const resumed = await trainRun(engine, run);
    expect(resumed.log.map((l) => l.loss)).toEqual(full.log.map((l) => l.loss));
    expect(resumed.evals.at(-1)!.testLoss).toBe(full.evals.at(-1)!.testLoss);
  });

  it("the best checkpoint's adapter loads back and gives the logged test loss", async () => {
    const best = full.best!;
    const peft = await readCheckpointAdapter(fullRun, best, engine.model.config);
    const data = await readRunDataset(fullRun);
    const adapter = new GpuLora(engine.memory, peft.lora, peft.layers, { trainable: false });
    const tf = new Transformer(engine.runner, engine.memory, engine.model, adapter, { seqLen: data.settings.seqLen });
    const loss = await packedLoss(tf, engine.runner, data.test);
    tf.destroy();
    const logged = full.checkpoints.find((c) => c.step === best)!.testLoss!;
    expect(Math.abs(loss - logged)).toBeLessThan(1e-5);
  });

  it('early stop ends a run whose test loss stops improving, keeping the best checkpoint', async () => {
    const run = memoryRunFolder();
    const dataset = await buildDataset(tinyRepo(8), engine.tokenizer, {
      seqLen: settings.seqLen,
      seed: 7,
      fim: { fimRate: 0.5, spmRate: 0.5, lineSplitRate: 0.9 },
      testFraction: 0.1,
    });
    // A learning rate far too high: test loss gets worse after the first steps.
    const s = validateSettings({ ...SETTINGS, lr: 0.5, warmupSteps: 0, steps: 30, evalEvery: 1, checkpointEvery: 1, earlyStop: 0.1 });
    await createRun(run, { id: 'early', model: { id: 'tiny', label: 'tiny' }, settings: s, dataset, engine });
    const r = await trainRun(engine, run);
    expect(r.status).toBe('early-stopped');
    const last = r.log.at(-1)!.step;
    expect(last).toBeLessThan(30);
    const best = r.evals.reduce((b, e) => (e.testLoss < b.testLoss ? e : b));
    expect(last - best.step).toBe(3); // patience: ceil(0.1 · 30) steps without a better test loss
    expect(r.best).toBe(r.checkpoints.reduce((b, c) => (c.testLoss! < b.testLoss! ? c : b)).step);
  });

  it('a run that does not fit is refused before training, with a setting that fits', async () => {
    const dataset = await buildDataset(tinyRepo(4), engine.tokenizer, {
      seqLen: 2048,
      seed: 1,
      fim: { fimRate: 0.5, spmRate: 0.5, lineSplitRate: 0.9 },
      testFraction: 0.1,
    });
    const big = validateSettings({ ...SETTINGS, seqLen: 2048, gpuMemoryBudget: 4 * 2 ** 20 });
    const run = memoryRunFolder();
    const err = await createRun(run, { id: 'big', model: { id: 'tiny', label: 'tiny' }, settings: big, dataset, engine }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MemoryCheckError);
    const check = (err as MemoryCheckError).check;
    expect((err as MemoryCheckError).message).toMatch(/does not fit.*sequence length of \d+ tokens fits/);
    expect(check.suggestion!.seqLen).toBeLessThan(2048);
    expect(await run.list('')).toEqual([]);
  });
});
