// A training run, DOM-free (the training worker and `homecoder train` both use it):
// create it (memory check, steps, dataset stored next to it), then train — from the
// start or from its latest checkpoint — with the schedule, gradient accumulation, test
// loss every N steps, checkpoints every N steps, early stop, and Stop between steps
// (the step loop is run-loop.ts).
import { GpuLora, initHostAdapter } from '../gpu/lora.ts';
import { LoraTrainer } from '../gpu/trainer.ts';
import { Transformer } from '../gpu/transformer.ts';
import { withErrorScopes } from '../gpu/device.ts';
import type { KernelRunner } from '../gpu/kernel.ts';
import type { GpuMemory } from '../gpu/memory.ts';
import type { GpuModel } from '../gpu/model.ts';
import type { HostAdapter, LoraConfig } from '../model/types.ts';
import type { Progress } from '../progress.ts';
import { decodeDataset, encodeDataset } from '../data/dataset/codec.ts';
import type { Dataset } from '../data/dataset/build.ts';
import { usableBlocks } from '../data/dataset/pack.ts';
import { autoSteps, type TrainSettings } from './settings.ts';
import { checkMemory, type DeviceLimits } from './memory-check.ts';
import { listCheckpoints, readCheckpointAdapter, restoreOptimizer } from './checkpoint.ts';
import type { RunRecord } from './run-record.ts';
import { readJsonFile, writeJsonFile, type RunFolder } from './run-folder.ts';
import { RunLoop } from './run-loop.ts';
import { MemoryCheckError, RunError } from './errors.ts';

export const RUN_FILE = 'run.json';
export const DATASET_FILE = 'dataset.bin';

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
  /** Asked after every step: true writes a checkpoint there (the tab is being hidden or closed). */
  checkpointRequested?: () => boolean;
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
  const check = checkMemory(engine.model.config, record.settings, engine.limits);
  if (!check.fits) throw new MemoryCheckError(check);
  opts.onProgress?.({ phase: 'loading dataset', done: 0, total: 1 });
  const data = await readRunDataset(run);
  const resumeFrom = (await listCheckpoints(run)).at(-1) ?? 0;
  const gpu = await allocateTraining(engine, record.settings, data, await startingAdapter(engine, run, record.settings, resumeFrom));
  try {
    if (resumeFrom) {
      await restoreOptimizer(run, resumeFrom, gpu.adapter);
      gpu.trainer.step = resumeFrom;
    }
    rewind(record, resumeFrom);
    const save = () => writeJsonFile(run, RUN_FILE, record);
    return await new RunLoop({ engine, run, record, data, ...gpu, opts, save }).run();
  } catch (err) {
    await recordFailure(run, record, err as Error);
    throw err;
  } finally {
    gpu.tf.destroy();
    gpu.adapter.destroy();
  }
}

function loraConfig(s: TrainSettings): LoraConfig {
  return { r: s.loraR, alpha: s.loraAlpha, dropout: s.loraDropout, targets: s.targets };
}

/** The LoRA weights to start from: the checkpoint's, or fresh ones from the run's seed. */
async function startingAdapter(engine: RunModel, run: RunFolder, s: TrainSettings, resumeFrom: number): Promise<HostAdapter> {
  const config = engine.model.config;
  if (resumeFrom) return (await readCheckpointAdapter(run, resumeFrom, config)).layers;
  return initHostAdapter(config, loraConfig(s), s.seed);
}

/** The adapter, its optimizer and the activations on the GPU (out of memory: a typed error). */
async function allocateTraining(
  engine: RunModel,
  s: TrainSettings,
  data: Dataset,
  host: HostAdapter,
): Promise<{ adapter: GpuLora; tf: Transformer; trainer: LoraTrainer }> {
  const { adapter, tf } = await withErrorScopes(
    engine.memory.device,
    `allocating the LoRA adapter, optimizer state and activations for ${s.seqLen} tokens`,
    async () => {
      const adapter = new GpuLora(engine.memory, loraConfig(s), host, { trainable: true });
      return {
        adapter,
        tf: new Transformer(engine.runner, engine.memory, engine.model, adapter, {
          seqLen: data.settings.seqLen,
          lowMemory: !!s.lowMemory,
        }),
      };
    },
  );
  return { adapter, tf, trainer: new LoraTrainer(engine.runner, engine.memory, tf, adapter, s.seed) };
}

/** Keeps what was logged up to the checkpoint resumed from: later steps are done again (identically). */
function rewind(record: RunRecord, resumeFrom: number): void {
  const kept = <T extends { step: number }>(xs: T[]) => (resumeFrom ? xs.filter((x) => x.step <= resumeFrom) : []);
  record.log = kept(record.log);
  record.evals = kept(record.evals);
  record.checkpoints = kept(record.checkpoints);
}

async function recordFailure(run: RunFolder, record: RunRecord, err: Error): Promise<void> {
  if (err.name === 'AbortError') return;
  record.status = 'failed';
  record.error = err.message;
  await writeJsonFile(run, RUN_FILE, record).catch(() => undefined);
}
