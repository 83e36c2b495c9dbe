// Tuning in the browser: the Model page's "Tune for this GPU" (every operation, 5 timed
// runs) and the quick pass before the first training run of a model shape this GPU has no
// picks for (1 timed run, the training operations only, a time budget of a few seconds).
// Both store what they chose in IndexedDB (tune-store.ts), where the engine and training
// workers read it when they open a model.
import type { KernelRunner } from './kernel.ts';
import { shapeKey, type KernelOp, type KernelPicks } from './kernel-versions.ts';
import type { GpuModel } from './model.ts';
import { modelTuneCases, tuneKernels, type TuneOptions, type TuneResult } from './tuner.ts';
import { adapterKey, indexedDbTuneStore, savePicks } from './tune-store.ts';
import { GpuError } from './errors.ts';

/** The training operations: what the automatic pass tunes (decoding can wait for the Model page's button). */
const TRAINING_OPS: readonly KernelOp[] = ['linear', 'linear-dx', 'attention'];
/** The automatic pass stops starting new shapes after this long (the rest keep the fallback until tuned). */
export const AUTO_TUNE_BUDGET_MS = 3000;

function adapterNames(device: GPUDevice) {
  const info = device.adapterInfo;
  if (!info || typeof indexedDB === 'undefined')
    throw new GpuError(
      'INTERNAL',
      'This browser gives no GPU adapter information or no IndexedDB, so tuned kernels cannot be stored.',
      'Use a current Chrome or Edge.',
    );
  return info;
}

/** Times every version at the model's shapes (training at `seqLen`, decoding), uses and stores the fastest. */
export async function tuneAndStore(runner: KernelRunner, model: GpuModel, seqLen: number, opts: TuneOptions = {}): Promise<TuneResult[]> {
  const info = adapterNames(runner.device);
  const results = await tuneKernels(runner, modelTuneCases(model, seqLen), opts);
  await savePicks(indexedDbTuneStore(), info, runner.kernels);
  return results;
}

/**
 * Before training: where the selection has no pick (at any token count) for some of the
 * model's training shapes, tunes those quickly at `seqLen` and stores the picks. Returns how many shapes it tuned
 * (0: all were tuned before, or the browser cannot store picks; nothing is ever refused).
 */
export async function autoTune(
  runner: KernelRunner,
  model: GpuModel,
  seqLen: number,
  opts: Omit<TuneOptions, 'reps' | 'budgetMs'> = {},
): Promise<number> {
  if (!runner.device.adapterInfo || typeof indexedDB === 'undefined') return 0;
  // A pick at any token count serves this model shape (the selection takes the nearest bucket).
  const untimed = (key: string) => key.replace(/ T\d+ /, ' ');
  const have = new Set(Object.keys(runner.kernels.picksRecord()).map(untimed));
  const missing = modelTuneCases(model, seqLen, TRAINING_OPS).filter((c) => !have.has(untimed(shapeKey(c.op, c.shape))));
  if (!missing.length) return 0;
  const results = await tuneKernels(runner, missing, { ...opts, reps: 1, budgetMs: AUTO_TUNE_BUDGET_MS });
  await savePicks(indexedDbTuneStore(), runner.device.adapterInfo, runner.kernels).catch(() => undefined);
  return results.length;
}

/** The picks stored for this device's adapter (the Model page lists them), with the key they are filed under. */
export async function storedPicks(device: GPUDevice): Promise<{ adapter: string; picks: KernelPicks }> {
  const info = adapterNames(device);
  const adapter = adapterKey(info);
  return { adapter, picks: (await indexedDbTuneStore().load(adapter)) ?? {} };
}
