// Loads a model folder onto the GPU in Node, and PEFT adapter folders for it: the shared
// start of `loss`, `train-steps`, `serve` and the benchmarks.
import { nodeGpuDevice } from './dawn.ts';
import { nodeFiles } from '../model/storage/node-files.ts';
import { openModel, type OpenModel } from '../model/loader.ts';
import { ModelTokenizer } from '../model/tokenizer.ts';
import { baseModelWarning, readPeftAdapter, type PeftAdapter } from '../model/peft.ts';
import type { ModelConfig } from '../model/types.ts';
import type { NamedAdapter } from '../serve/serving-adapter.ts';
import { basename, resolve } from 'node:path';
import { KernelRunner } from '../gpu/kernel.ts';
import { GpuMemory } from '../gpu/memory.ts';
import { uploadModel, type GpuModel } from '../gpu/model.ts';
import { withErrorScopes, type GpuContext } from '../gpu/device.ts';
import { UsageError } from '../errors.ts';
import type { KernelFamily } from '../gpu/kernel-versions.ts';
import { applyKernels } from './kernels-option.ts';

export interface NodeModel {
  gpu: GpuContext;
  runner: KernelRunner;
  memory: GpuMemory;
  opened: OpenModel;
  model: GpuModel;
  tokenizer: ModelTokenizer;
  adapter?: PeftAdapter;
  close(): void;
}

export async function loadNodeModel(
  modelDir: string,
  opts: { adapterDir?: string; maxChunkBytes?: number; kernels?: KernelFamily } = {},
): Promise<NodeModel> {
  const files = nodeFiles(modelDir);
  // Everything that can be wrong with the files is found before the GPU is touched.
  const opened = await openModel(files);
  const tokenizer = await ModelTokenizer.load(files, opened.config.vocabSize);
  const adapter = opts.adapterDir ? await readPeftAdapter(nodeFiles(opts.adapterDir), opened.config) : undefined;
  const warning = adapter && baseModelWarning(adapter.baseModel, basename(resolve(modelDir)), `The adapter in ${opts.adapterDir}`);
  if (warning) console.warn(`Warning: ${warning}`);
  const gpu = await nodeGpuDevice();
  const runner = new KernelRunner(gpu.device);
  await applyKernels(runner, gpu.info, opts.kernels);
  const memory = new GpuMemory(gpu.device);
  // Out of memory while uploading becomes a typed error with a hint, not garbage later.
  const model = await withErrorScopes(gpu.device, 'uploading the model weights', () =>
    uploadModel(memory, opened.config, (n) => opened.tensor(n), { maxChunkBytes: opts.maxChunkBytes }),
  );
  return {
    gpu,
    runner,
    memory,
    opened,
    model,
    tokenizer,
    adapter,
    close: () => {
      memory.destroyAll();
      gpu.device.destroy();
    },
  };
}

/** PEFT adapter folders with their mix weights, each named after its folder. */
export async function loadAdapterFolders(
  specs: Array<{ dir: string; weight: number }>,
  config: ModelConfig,
  modelDir: string,
): Promise<NamedAdapter[]> {
  const out: NamedAdapter[] = [];
  for (const s of specs) {
    const adapter = await readPeftAdapter(nodeFiles(s.dir), config);
    const warning = baseModelWarning(adapter.baseModel, basename(resolve(modelDir)), `Adapter ${s.dir}`);
    if (warning) console.warn(`Warning: ${warning}`);
    out.push({ ...adapter, name: basename(resolve(s.dir)), weight: s.weight });
  }
  return out;
}

/** Reads token ids from a file: a JSON array, or numbers separated by whitespace or commas. */
export function parseIds(text: string, vocabSize: number, file: string): number[] {
  const t = text.trim();
  const ids = t.startsWith('[')
    ? (JSON.parse(t) as unknown[])
    : t
        .split(/[\s,]+/)
        .filter(Boolean)
        .map(Number);
  ids.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= vocabSize)
      throw new UsageError(`${file}: entry ${i} (${String(v)}) is not a token id below ${vocabSize}`);
  });
  return ids as number[];
}
