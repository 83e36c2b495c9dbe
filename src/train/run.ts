// A training run, DOM-free (the training worker and `homecoder train` both use it):
// create it (memory check, steps, dataset stored next to it), then train — from the
// start or from its latest checkpoint — with the schedule, gradient accumulation, test
// loss every N steps, checkpoints every N steps, early stop, and Stop between steps.
import { GpuLora, initHostAdapter } from '../gpu/lora.ts';
import { LoraTrainer } from '../gpu/trainer.ts';
import { Transformer } from '../gpu/transformer.ts';
import { withErrorScopes } from '../gpu/device.ts';
import type { KernelRunner } from '../gpu/kernel.ts';
import type { GpuMemory } from '../gpu/memory.ts';
import type { GpuModel } from '../gpu/model.ts';
import type { LoraConfig } from '../model/types.ts';
import type { Progress } from '../progress.ts';
import { abortError } from '../progress.ts';
import { decodeDataset, encodeDataset } from '../data/dataset/codec.ts';
import type { Dataset } from '../data/dataset/build.ts';
import { usableBlocks } from '../data/dataset/pack.ts';
import { autoSteps, type TrainSettings } from './settings.ts';
import { learningRate } from './schedule.ts';
import { checkMemory, type DeviceLimits } from './memory-check.ts';
import { BlockSampler } from './sampler.ts';
import { packedLoss } from './eval-loss.ts';
import { listCheckpoints, readCheckpointAdapter, restoreOptimizer, saveCheckpoint, writeAdapterMeta } from './checkpoint.ts';
import { bestCheckpoint, type RunRecord } from './run-record.ts';
import { readJsonFile, writeJsonFile, type RunFolder } from './run-folder.ts';
import { MemoryCheckError, RunError, TrainingError } from './errors.ts';

export const RUN_FILE = 'run.json';
export const DATASET_FILE = 'dataset.bin';

/** AdamW constants that are not user settings (Refact's betas and epsilon). */
const ADAM = { beta1: 0.9, beta2: 0.95, eps: 1e-6 };

export { MemoryCheckError };

export interface RunModel {
  runner: KernelRunner;
  memory: GpuMemory;
  model: GpuModel;
  limits: DeviceLimits;
}

export interface LiveProgress {
  step: number;
  steps: number;
  loss: number;
  testLoss: number | null;
  lr: number;
  tokensPerSecond: number;
  /** Seconds left, from measured step and evaluation times. */
  etaSeconds: number;
  gpuMemory: number;
}

export interface TrainOptions {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** After every step, with the stored record (already written) and live figures. */
  onUpdate?: (record: RunRecord, live: LiveProgress) => void;
  /** Most test blocks measured per evaluation (the rest are skipped to keep evaluations short). */
  maxTestBlocks?: number;
}

export function resolveSteps(s: TrainSettings, d: Dataset): { steps: number; auto: boolean } {
  return s.steps > 0 ? { steps: s.steps, auto: false } : { steps: autoSteps(usableBlocks(d.train).length, s.batchSize), auto: true };
}

/** Checks memory, stores the dataset and run.json; nothing runs on the GPU yet. */
export async function createRun(
  run: RunFolder,
  input: {
    id: string;
    model: { id: string; label: string };
    settings: TrainSettings;
    dataset: Dataset;
    engine: Pick<RunModel, 'model' | 'limits'>;
  },
): Promise<RunRecord> {
  const check = checkMemory(input.engine.model.config, input.settings, input.engine.limits);
  if (!check.fits) throw new MemoryCheckError(check);
  const { steps, auto } = resolveSteps(input.settings, input.dataset);
  const record: RunRecord = {
    id: input.id,
    createdAt: new Date().toISOString(),
    model: input.model,
    settings: input.settings,
    steps,
    stepsAuto: auto,
    dataset: input.dataset.stats,
    plan: check.plan,
    status: 'created',
    log: [],
    evals: [],
    checkpoints: [],
    best: null,
  };
  await run.write(DATASET_FILE, encodeDataset(input.dataset));
  await writeJsonFile(run, RUN_FILE, record);
  return record;
}

export async function readRun(run: RunFolder): Promise<RunRecord | undefined> {
  let record: RunRecord | undefined;
  try {
    record = await readJsonFile<RunRecord>(run, RUN_FILE);
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    throw new RunError(
      'RUN_CORRUPT',
      `${RUN_FILE} of this run is damaged (${err.message}), so it cannot be resumed. Start a new run in another folder (the checkpoints in this one stay as they are).`,
    );
  }
  if (
    record !== undefined &&
    (record === null || typeof record !== 'object' || !record.settings || !Array.isArray(record.log) || !record.model)
  )
    throw new RunError(
      'RUN_CORRUPT',
      `${RUN_FILE} of this run is not a Homecoder run record, so it cannot be resumed. Start a new run in another folder.`,
    );
  return record;
}

export async function readRunDataset(run: RunFolder): Promise<Dataset> {
  const bytes = await run.read(DATASET_FILE);
  if (!bytes) throw new RunError('RUN_DATASET_LOST', 'This run has lost its dataset; start a new run.');
  return decodeDataset(bytes);
}

/**
 * Trains a created run to its last step, continuing from its latest checkpoint if it
 * has one (same data order and dropout masks: it ends where an uninterrupted run would).
 * Aborting stops between steps, saves a checkpoint there, and rejects with an AbortError.
 */
export async function trainRun(engine: RunModel, run: RunFolder, opts: TrainOptions = {}): Promise<RunRecord> {
  const record = await readRun(run);
  if (!record) throw new RunError('RUN_NOT_FOUND', 'No such run.');
  const s = record.settings;
  const config = engine.model.config;
  const check = checkMemory(config, s, engine.limits);
  if (!check.fits) throw new MemoryCheckError(check);
  opts.onProgress?.({ phase: 'loading dataset', done: 0, total: 1 });
  const data = await readRunDataset(run);
  const lora: LoraConfig = { r: s.loraR, alpha: s.loraAlpha, dropout: s.loraDropout, targets: s.targets };
  const resumeFrom = (await listCheckpoints(run)).at(-1) ?? 0;
  const host = resumeFrom ? (await readCheckpointAdapter(run, resumeFrom, config)).layers : initHostAdapter(config, lora, s.seed);

  const { adapter, tf } = await withErrorScopes(
    engine.memory.device,
    `allocating the LoRA adapter, optimizer state and activations for ${s.seqLen} tokens`,
    async () => {
      const adapter = new GpuLora(engine.memory, lora, host, { trainable: true });
      return {
        adapter,
        tf: new Transformer(engine.runner, engine.memory, engine.model, adapter, {
          seqLen: data.settings.seqLen,
          lowMemory: !!s.lowMemory,
        }),
      };
    },
  );
  const trainer = new LoraTrainer(engine.runner, engine.memory, tf, adapter, s.seed);
  const release = () => {
    tf.destroy();
    adapter.destroy();
  };
  try {
    if (resumeFrom) {
      await restoreOptimizer(run, resumeFrom, adapter);
      trainer.step = resumeFrom;
      // Steps logged after the checkpoint are done again (identically).
      record.log = record.log.filter((l) => l.step <= resumeFrom);
      record.evals = record.evals.filter((e) => e.step <= resumeFrom);
      record.checkpoints = record.checkpoints.filter((c) => c.step <= resumeFrom);
    } else {
      record.log = [];
      record.evals = [];
      record.checkpoints = [];
    }
    record.status = 'running';
    delete record.error;
    const sampler = new BlockSampler(data.train, s.seed);
    const evalTest = () => packedLoss(tf, engine.runner, data.test, { signal: opts.signal, maxBlocks: opts.maxTestBlocks });
    const save = () => writeJsonFile(run, RUN_FILE, record);
    const baseModel = record.model.label;

    let evalMs = 0;
    if (!record.evals.some((e) => e.step === 0)) {
      opts.onProgress?.({ phase: 'test loss', done: 0, total: record.steps, detail: 'before training' });
      const t0 = performance.now();
      record.evals.unshift({ step: 0, testLoss: await evalTest() });
      evalMs = performance.now() - t0;
    }
    await save();
    const stepMs: number[] = [];
    const lastTest = () => record.evals.at(-1)?.testLoss ?? null;
    const checkpoint = async (step: number, trainLoss: number | null, testLoss: number | null) => {
      await saveCheckpoint(run, adapter, trainer, baseModel, { step, dataPosition: step * s.batchSize, trainLoss, testLoss });
      record.checkpoints.push({ step, trainLoss, testLoss });
      record.best = bestCheckpoint(record);
      await writeAdapterMeta(run, record);
    };

    for (let step = trainer.step + 1; step <= record.steps; step++) {
      if (opts.signal?.aborted) {
        const last = record.log.at(-1);
        if (last && !record.checkpoints.some((c) => c.step === last.step)) await checkpoint(last.step, last.loss, null);
        record.status = 'stopped';
        await save();
        throw abortError(opts.signal.reason);
      }
      const lr = learningRate(step, record.steps, s);
      const t0 = performance.now();
      const res = await trainer.trainStep(sampler.batch(step, s.batchSize), {
        lr,
        ...ADAM,
        weightDecay: s.weightDecay,
        maxGradNorm: s.maxGradNorm,
      });
      const ms = performance.now() - t0;
      stepMs.push(ms);
      if (!Number.isFinite(res.loss)) throw new TrainingError(res.loss, step);
      record.log.push({ step, loss: res.loss, lr, gradNorm: res.gradNorm, tokens: res.tokens, ms });
      const last = step === record.steps;
      const atCheckpoint = step % s.checkpointEvery === 0 || last;
      if (step % s.evalEvery === 0 || atCheckpoint) {
        opts.onProgress?.({ phase: 'test loss', done: step, total: record.steps });
        const e0 = performance.now();
        record.evals.push({ step, testLoss: await evalTest() });
        evalMs = performance.now() - e0;
      }
      if (atCheckpoint) await checkpoint(step, res.loss, record.evals.at(-1)!.step === step ? lastTest() : null);
      let stopEarly = false;
      if (s.earlyStop > 0) {
        const best = record.evals.reduce((b, e) => (e.testLoss < b.testLoss ? e : b), record.evals[0]);
        stopEarly = step - best.step >= Math.max(1, Math.ceil(s.earlyStop * record.steps)) && !last;
        if (stopEarly && !atCheckpoint) await checkpoint(step, res.loss, lastTest());
      }
      if (last) record.status = 'done';
      if (stopEarly) record.status = 'early-stopped';
      await save();
      const recent = stepMs.slice(-10);
      const meanMs = recent.reduce((a, b) => a + b, 0) / recent.length;
      const left = record.steps - step;
      const evalsLeft = Math.floor(record.steps / s.evalEvery) - Math.floor(step / s.evalEvery);
      const live: LiveProgress = {
        step,
        steps: record.steps,
        loss: res.loss,
        testLoss: lastTest(),
        lr,
        tokensPerSecond: res.tokens / (ms / 1000),
        etaSeconds: (left * meanMs + evalsLeft * evalMs) / 1000,
        gpuMemory: engine.memory.report().total,
      };
      opts.onProgress?.({ phase: 'training', done: step, total: record.steps, detail: `loss ${res.loss.toFixed(4)}` });
      opts.onUpdate?.(record, live);
      if (stopEarly) break;
    }
    if (record.status === 'running') {
      // Resumed at (or past) its last step: nothing was left to train.
      record.status = 'done';
      await save();
    }
    return record;
  } catch (err) {
    if ((err as Error).name !== 'AbortError') {
      record.status = 'failed';
      record.error = (err as Error).message;
      await writeJsonFile(run, RUN_FILE, record).catch(() => undefined);
    }
    throw err;
  } finally {
    release();
  }
}
