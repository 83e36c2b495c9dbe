// Checkpoints: the adapter in PEFT format (adapter_config.json + adapter_model.safetensors,
// loadable by PEFT and by `homecoder loss --adapter`), the AdamW moments in
// optimizer.safetensors, and state.json (step, data position, losses) written last so a
// half-written checkpoint is never taken for a whole one.
import type { GpuLora } from '../gpu/lora.ts';
import type { LoraTrainer } from '../gpu/trainer.ts';
import { readFloat32 } from '../gpu/buffers.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, readPeftAdapter, writePeftAdapter, type PeftAdapter } from '../model/peft.ts';
import { memoryFiles, bytesSource } from '../model/storage/files.ts';
import { readSafetensorsHeader, readTensorBytes, writeSafetensors } from '../model/safetensors.ts';
import type { ModelConfig } from '../model/types.ts';
import { ADAPTER_META, type AdapterMeta } from '../model/storage/adapter-store.ts';
import type { RunRecord } from './run-record.ts';
import { readJsonFile, writeJsonFile, type RunFolder } from './run-folder.ts';
import { RunError } from './errors.ts';

export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FILE = 'state.json';

export interface CheckpointState {
  step: number;
  /** Sequences consumed so far (the sampler's position): step · batch size. */
  dataPosition: number;
  trainLoss: number | null;
  testLoss: number | null;
  savedAt: string;
}

export const checkpointDir = (step: number) => `checkpoints/step-${String(step).padStart(6, '0')}`;

export async function saveCheckpoint(
  run: RunFolder,
  adapter: GpuLora,
  trainer: LoraTrainer,
  baseModel: string,
  state: Omit<CheckpointState, 'savedAt'>,
): Promise<void> {
  const dir = checkpointDir(state.step);
  const peft = writePeftAdapter({ lora: adapter.config, baseModel, layers: await adapter.toHost() });
  // The config last: the Use page lists a folder as an adapter once its config is there.
  for (const [name, bytes] of [...peft].sort(([a], [b]) => Number(a === ADAPTER_CONFIG) - Number(b === ADAPTER_CONFIG)))
    await run.write(`${dir}/${name}`, bytes);
  const device = adapter.memory.device;
  const tensors = [];
  let i = 0;
  for (const p of adapter.params()) {
    for (const [which, buf] of [
      ['m', p.m],
      ['v', p.v],
    ] as const) {
      const data = await readFloat32(device, buf, p.n);
      tensors.push({ name: `${i}.${which}`, dtype: 'F32' as const, shape: [p.n], data: new Uint8Array(data.buffer) });
    }
    i++;
  }
  await run.write(`${dir}/${OPTIMIZER_FILE}`, writeSafetensors(tensors, { step: String(trainer.step) }));
  await writeJsonFile(run, `${dir}/${STATE_FILE}`, { ...state, savedAt: new Date().toISOString() } satisfies CheckpointState);
}

/** Steps of the complete checkpoints in a run, ascending. */
export async function listCheckpoints(run: RunFolder): Promise<number[]> {
  const steps: number[] = [];
  for (const name of await run.list('checkpoints')) {
    const m = /^step-(\d+)$/.exec(name);
    if (m && (await run.read(`checkpoints/${name}/${STATE_FILE}`))) steps.push(Number(m[1]));
  }
  return steps.sort((a, b) => a - b);
}

export async function readCheckpointState(run: RunFolder, step: number): Promise<CheckpointState | undefined> {
  return readJsonFile<CheckpointState>(run, `${checkpointDir(step)}/${STATE_FILE}`);
}

/** The checkpoint's PEFT adapter files (for export and loading). */
export async function checkpointAdapterFiles(run: RunFolder, step: number): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const name of [ADAPTER_CONFIG, ADAPTER_WEIGHTS]) {
    const b = await run.read(`${checkpointDir(step)}/${name}`);
    if (!b) throw new RunError('BAD_CHECKPOINT', `Checkpoint ${step} is missing ${name}.`, { step });
    out.set(name, b);
  }
  return out;
}

export async function readCheckpointAdapter(run: RunFolder, step: number, config: ModelConfig): Promise<PeftAdapter> {
  return readPeftAdapter(memoryFiles(`checkpoint ${step}`, await checkpointAdapterFiles(run, step)), config);
}

/** Puts the saved AdamW moments back into a trainable adapter (same settings, same order). */
export async function restoreOptimizer(run: RunFolder, step: number, adapter: GpuLora): Promise<void> {
  const bytes = await run.read(`${checkpointDir(step)}/${OPTIMIZER_FILE}`);
  if (!bytes) throw new RunError('BAD_CHECKPOINT', `Checkpoint ${step} has no optimizer state.`, { step });
  const src = bytesSource(OPTIMIZER_FILE, bytes);
  const header = await readSafetensorsHeader(src);
  const device = adapter.memory.device;
  let i = 0;
  for (const p of adapter.params()) {
    for (const [which, buf] of [
      ['m', p.m],
      ['v', p.v],
    ] as const) {
      const info = header.tensors.get(`${i}.${which}`);
      if (!info || info.shape[0] !== p.n)
        throw new RunError('BAD_CHECKPOINT', `Checkpoint ${step}: optimizer state does not match this adapter (tensor ${i}.${which}).`, {
          step,
        });
      const data = (await readTensorBytes(src, info)).slice();
      device.queue.writeBuffer(buf, 0, data);
    }
    i++;
  }
}

/**
 * Describes every checkpoint of a run for the Use page's adapter list (ADAPTER_META beside
 * the PEFT files): which run and step, its test loss, and whether it is the run's best.
 * Rewritten whenever the best changes.
 */
export async function writeAdapterMeta(run: RunFolder, record: RunRecord): Promise<void> {
  for (const c of record.checkpoints) {
    const meta: AdapterMeta = {
      label: `${record.model.label} · run ${record.id} · step ${c.step}`,
      run: record.id,
      step: c.step,
      testLoss: c.testLoss ?? undefined,
      best: c.step === record.best,
      baseModel: record.model.label,
      createdAt: record.createdAt,
    };
    await writeJsonFile(run, `${checkpointDir(c.step)}/${ADAPTER_META}`, meta);
  }
}
