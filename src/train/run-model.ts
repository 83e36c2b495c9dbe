// Opens a model (any ModelFiles: a folder on disk, OPFS, picked files) on a GPUDevice as
// the engine a run needs: weights on the GPU, its tokenizer, and the device's limits.
import { openModel } from '../model/loader.ts';
import { ModelTokenizer } from '../model/tokenizer.ts';
import type { ModelFiles } from '../model/storage/files.ts';
import { KernelRunner } from '../gpu/kernel.ts';
import { GpuMemory } from '../gpu/memory.ts';
import { uploadModel } from '../gpu/model.ts';
import { withErrorScopes } from '../gpu/device.ts';
import { applyBrowserPicks } from '../gpu/tune-store.ts';
import type { Progress } from '../progress.ts';
import type { RunModel } from './run.ts';

export interface OpenedRunModel extends RunModel {
  tokenizer: ModelTokenizer;
  /** tokenizer_config.json as stored (for the chat template). */
  tokenizerConfig: unknown;
  close(): void;
}

export async function openRunModel(
  device: GPUDevice,
  files: ModelFiles,
  opts: { signal?: AbortSignal; onProgress?: (p: Progress) => void } = {},
): Promise<OpenedRunModel> {
  const opened = await openModel(files);
  const tokenizer = await ModelTokenizer.load(files, opened.config.vocabSize);
  const cfgSrc = await files.open('tokenizer_config.json');
  const tokenizerConfig: unknown = cfgSrc ? JSON.parse(new TextDecoder().decode(await cfgSrc.read(0, cfgSrc.size))) : {};
  const memory = new GpuMemory(device);
  const model = await withErrorScopes(device, 'uploading the model weights', () =>
    uploadModel(memory, opened.config, (n) => opened.tensor(n), {
      signal: opts.signal,
      onTensor: (name, done, total) => opts.onProgress?.({ phase: 'loading weights', done, total, detail: name }),
    }),
  ).catch((err: unknown) => {
    memory.destroyAll();
    throw err;
  });
  const runner = new KernelRunner(device);
  await applyBrowserPicks(device, runner.kernels); // the tuner's choices for this GPU, in the browser
  return {
    runner,
    memory,
    model,
    limits: { maxBufferSize: device.limits.maxBufferSize, maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize },
    tokenizer,
    tokenizerConfig,
    close: () => memory.destroyAll(),
  };
}
