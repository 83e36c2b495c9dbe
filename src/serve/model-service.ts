// The engine worker's model operations: downloads into OPFS, cached models, loading a
// model (from OPFS or from picked files) onto the GPU, and its loss on a text.
import { CATALOG } from '../model/catalog.ts';
import { Hub } from '../model/hub/client.ts';
import { downloadModel } from '../model/hub/download.ts';
import { opfsStore } from '../model/storage/opfs-store.ts';
import { openModel } from '../model/loader.ts';
import { ModelTokenizer } from '../model/tokenizer.ts';
import { ModelError } from '../model/errors.ts';
import { blobFiles, type ModelFiles } from '../model/storage/files.ts';
import { modelId, type Manifest, type ModelStore } from '../model/storage/store.ts';
import { GpuMemory, type MemoryReport } from '../gpu/memory.ts';
import { KernelRunner } from '../gpu/kernel.ts';
import { applyBrowserPicks } from '../gpu/tune-store.ts';
import { tuneAndStore } from '../gpu/browser-tune.ts';
import type { TuneResult } from '../gpu/tuner.ts';
import { uploadModel, type GpuModel } from '../gpu/model.ts';
import { Transformer } from '../gpu/transformer.ts';
import { readFloat32 } from '../gpu/buffers.ts';
import { planMemory, type MemoryPlan } from '../gpu/planner.ts';
import { withErrorScopes } from '../gpu/device.ts';
import { LORA_TARGETS, type ModelConfig } from '../model/types.ts';
import type { Progress } from '../progress.ts';

export interface HubSettings {
  endpoint?: string;
  revision?: string;
  token?: string;
}

export interface LoadedModelInfo {
  /** The stored model's id (a folder name in browser storage) or `folder:<name>`. */
  source: string;
  /** How the user knows it: the repository id (`owner/name`), or `folder:<name>`. */
  name: string;
  config: ModelConfig;
  dtype: string;
  fileBytes: number;
  /** The planner's estimate for LoRA training at 2048 tokens, and for this load (inference). */
  trainingPlan: MemoryPlan;
  /** What the engine really allocated for the weights. */
  allocated: MemoryReport;
  fim?: string;
}

/** A stored model, its bytes in storage, and the files its manifest lists as done that are gone. */
export type CachedModel = Manifest & { bytes: number; missing: string[] };

export class ModelService {
  private store?: Promise<ModelStore>;
  private loaded?: {
    info: LoadedModelInfo;
    model: GpuModel;
    memory: GpuMemory;
    runner: KernelRunner;
    tokenizer: ModelTokenizer;
    /** Its files (the export reads the weights again from them, one tensor at a time). */
    files: ModelFiles;
  };

  constructor(private device: () => Promise<GPUDevice>) {}

  private opfs(): Promise<ModelStore> {
    this.store ??= opfsStore();
    return this.store;
  }

  catalog() {
    return CATALOG;
  }

  /**
   * The stored models; a model whose manifest says a file is done while the file is gone or
   * shorter (browser storage evicted it) is reported incomplete, with the files to fetch again.
   */
  async cached(): Promise<CachedModel[]> {
    const store = await this.opfs();
    const out: CachedModel[] = [];
    for (const m of await store.list()) {
      const folder = await store.folder(m.id);
      let bytes = 0;
      const missing: string[] = [];
      for (const [name, f] of Object.entries(m.files)) {
        const size = await folder.size(name);
        bytes += size;
        if (f.done && (f.size !== undefined ? size !== f.size : size === 0)) missing.push(name);
      }
      out.push({ ...m, complete: m.complete && missing.length === 0, bytes, missing });
    }
    return out.sort((a, b) => a.repo.localeCompare(b.repo));
  }

  async download(repo: string, hub: HubSettings, signal: AbortSignal, onProgress: (p: Progress) => void): Promise<Manifest> {
    return downloadModel(new Hub(repo, hub), await this.opfs(), { signal, onProgress });
  }

  async remove(id: string): Promise<void> {
    if (this.loaded?.info.source === id) this.unload();
    await (await this.opfs()).remove(id);
  }

  async loadCached(id: string, signal: AbortSignal, onProgress: (p: Progress) => void): Promise<LoadedModelInfo> {
    const store = await this.opfs();
    const m = (await this.cached()).find((x) => x.id === id);
    if (!m) throw new ModelError('MODEL_NOT_FOUND', `No downloaded model "${id}": download it again.`);
    if (m.missing.length)
      throw new ModelError(
        'MODEL_INCOMPLETE',
        `${m.repo} is missing ${m.missing.join(', ')} in browser storage: fetch the missing files first.`,
        {
          file: m.missing[0],
        },
      );
    if (!m.complete) throw new ModelError('MODEL_INCOMPLETE', `${m.repo} is not completely downloaded yet: resume the download first.`);
    const name = m.revision === 'main' ? m.repo : `${m.repo}@${m.revision}`;
    return this.load((await store.folder(id)).files(), id, signal, onProgress, name);
  }

  /**
   * Copies a picked model folder into browser storage (so it stays after the files move),
   * as a cached model like a download; checked (config, tensors) before anything is copied.
   */
  async importFiles(files: Array<{ path: string; file: File }>, signal: AbortSignal, onProgress: (p: Progress) => void): Promise<Manifest> {
    const { byName, folder: name } = pickedFolder(files);
    onProgress({ phase: 'checking files', done: 0, total: 1 });
    const opened = await openModel(blobFiles(`the folder ${name}`, byName));
    const store = await this.opfs();
    const id = modelId(`local/${name}`, 'main');
    const folder = await store.folder(id);
    const manifest: Manifest = {
      id,
      repo: `local/${name}`,
      revision: 'main',
      endpoint: 'local folder',
      architecture: opened.config.architecture,
      files: {},
      complete: false,
      updatedAt: new Date().toISOString(),
    };
    for (const [n, blob] of byName) manifest.files[n] = { size: blob.size, done: false };
    await folder.writeManifest(manifest);
    const total = [...byName.values()].reduce((s, b) => s + b.size, 0);
    let done = 0;
    for (const [n, blob] of byName) {
      const writer = await folder.writer(n, 0);
      try {
        const reader = blob.stream().getReader();
        for (;;) {
          signal.throwIfAborted();
          const { done: end, value } = await reader.read();
          if (end) break;
          await writer.write(value);
          done += value.byteLength;
          onProgress({ phase: 'copying', done, total, detail: n });
        }
      } finally {
        await writer.close();
      }
      manifest.files[n].done = true;
      await folder.writeManifest(manifest);
    }
    manifest.complete = true;
    await folder.writeManifest(manifest);
    return manifest;
  }

  /** Loads files picked from a folder, in place (nothing is copied). */
  async loadFiles(
    files: Array<{ path: string; file: File }>,
    signal: AbortSignal,
    onProgress: (p: Progress) => void,
  ): Promise<LoadedModelInfo> {
    const { byName, folder } = pickedFolder(files);
    return this.load(blobFiles(`the folder ${folder}`, byName), `folder:${folder}`, signal, onProgress);
  }

  private async load(
    files: ModelFiles,
    source: string,
    signal: AbortSignal,
    onProgress: (p: Progress) => void,
    name = source,
  ): Promise<LoadedModelInfo> {
    onProgress({ phase: 'checking files', done: 0, total: 1 });
    const opened = await openModel(files);
    const tokenizer = await ModelTokenizer.load(files, opened.config.vocabSize);
    this.unload();
    const device = await this.device();
    const memory = new GpuMemory(device);
    const model = await withErrorScopes(device, 'uploading the model weights', () =>
      uploadModel(memory, opened.config, (n) => opened.tensor(n), {
        signal,
        onTensor: (name, done, total) => onProgress({ phase: 'loading weights', done, total, detail: name }),
      }),
    ).catch((err: unknown) => {
      memory.destroyAll();
      throw err;
    });
    const info: LoadedModelInfo = {
      source,
      name,
      config: opened.config,
      dtype: opened.dtype,
      fileBytes: opened.bytes,
      trainingPlan: planMemory(
        { config: opened.config, seqLen: 2048, lora: { r: 16, targets: LORA_TARGETS }, training: true },
        device.limits.maxStorageBufferBindingSize,
      ),
      allocated: memory.report(),
      fim: tokenizer.fim?.family,
    };
    const runner = new KernelRunner(device);
    await applyBrowserPicks(device, runner.kernels); // the tuner's choices for this GPU
    this.loaded = { info, model, memory, runner, tokenizer, files };
    return info;
  }

  /** The model on the GPU now (inference builds on it), or undefined. */
  get current() {
    return this.loaded;
  }

  unload(): void {
    this.loaded?.memory.destroyAll();
    this.loaded = undefined;
  }

  /** Times every kernel version at the loaded model's shapes (training at `seqLen` tokens) on this GPU; uses and stores the fastest. */
  async tuneKernels(seqLen: number, signal: AbortSignal, onProgress: (p: Progress) => void): Promise<TuneResult[]> {
    const l = this.loaded;
    if (!l) throw new ModelError('NO_MODEL_LOADED', 'Load a model first: the kernels are tuned at its shapes.');
    return tuneAndStore(l.runner, l.model, seqLen, { signal, onProgress });
  }

  /** Mean next-token loss of `text` under the loaded model (as `homecoder loss`). */
  async loss(text: string): Promise<{ tokens: number; loss: number }> {
    const l = this.loaded;
    if (!l) throw new ModelError('NO_MODEL_LOADED', 'Load a model first.');
    const ids = l.tokenizer.encode(text);
    if (ids.length < 2) throw new ModelError('TEXT_TOO_SHORT', 'The text needs at least two tokens.');
    const tf = new Transformer(l.runner, l.memory, l.model, undefined, { seqLen: ids.length });
    try {
      tf.setBatch(ids);
      await l.runner.run((pass) => tf.recordForward(pass));
      const [loss] = await readFloat32(l.memory.device, tf.loss, 1);
      return { tokens: ids.length, loss };
    } finally {
      tf.destroy();
    }
  }
}

/** Files from a folder picker by their path below the picked folder (which names the model). */
function pickedFolder(files: Array<{ path: string; file: File }>): { byName: Map<string, Blob>; folder: string } {
  const byName = new Map<string, Blob>();
  for (const { path, file } of files) byName.set(path.includes('/') ? path.slice(path.indexOf('/') + 1) : path, file);
  return { byName, folder: files[0]?.path.split('/')[0] ?? 'picked files' };
}
