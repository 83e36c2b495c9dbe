// The contract between the UI thread and the engine worker (which owns the GPUDevice of
// inference): the worker implements EngineApi, the page's client is typed from it
// (WorkerClient in jobs.ts), so a method exists on both sides or the type check fails.
import type { GpuInfo } from '../gpu/device.ts';
import type { SelfTestResult } from '../gpu/selftest.ts';
import type { ProgressListener } from '../progress.ts';
import type { CancellableApi, JobId } from './jobs.ts';
import type { CatalogEntry } from '../model/catalog.ts';
import type { Manifest } from '../model/storage/store.ts';
import type { CachedModel, HubSettings, LoadedModelInfo } from '../serve/model-service.ts';
import type { PlanReport, PlanRequest } from '../train/plan-service.ts';
import type { CompletionRequest, CompletionResult, ServingInfo } from '../serve/types.ts';
import type { BridgeTarget } from '../serve/bridge-link.ts';
import type { RepoContextStatus, ServingChoice } from '../serve/inference-service.ts';
import type { StoredAdapter } from '../model/storage/adapter-store.ts';
import type { RestoreState } from '../serve/serving-memory.ts';
import type { ExportedFiles } from '../serve/export-service.ts';
import type { TuneResult } from '../gpu/tuner.ts';
import type { KernelPicks } from '../gpu/kernel-versions.ts';

export type { BridgeTarget, CachedModel, ExportedFiles, HubSettings, KernelPicks, LoadedModelInfo, PlanReport, PlanRequest, TuneResult };

export type GpuStatus = { ok: true; info: GpuInfo } | { ok: false; code: string; message: string; hint: string };

export interface EngineApi extends CancellableApi {
  /** Requests the adapter and device once; later calls return the same answer. */
  gpuStatus(): Promise<GpuStatus>;
  /** Runs the GPU check (a real compute shader compared with a CPU reference). */
  selfTest(jobId: JobId, onProgress: ProgressListener, size?: number): Promise<SelfTestResult>;

  catalog(): Promise<CatalogEntry[]>;
  cachedModels(): Promise<CachedModel[]>;
  /** Downloads (or resumes) a hub model into browser storage. */
  downloadModel(jobId: JobId, onProgress: ProgressListener, repo: string, hub: HubSettings): Promise<Manifest>;
  deleteModel(id: string): Promise<void>;
  loadCachedModel(jobId: JobId, onProgress: ProgressListener, id: string): Promise<LoadedModelInfo>;
  /** Loads a model from picked files in place; `path` is the file's path in the picked folder. */
  loadModelFiles(jobId: JobId, onProgress: ProgressListener, files: Array<{ path: string; file: File }>): Promise<LoadedModelInfo>;
  loss(text: string): Promise<{ tokens: number; loss: number }>;
  /** Whether the model and adapters served before a reload are coming back (they load by themselves). */
  restoreState(): Promise<RestoreState>;
  /** The model loaded now (also one brought back after a reload), if any. */
  loadedModel(): Promise<LoadedModelInfo | undefined>;
  /** Copies a picked model folder into browser storage (listed with the downloaded models). */
  importModelFiles(jobId: JobId, onProgress: ProgressListener, files: Array<{ path: string; file: File }>): Promise<Manifest>;
  /** "Tune for this GPU": times every kernel version at the loaded model's shapes (training at `seqLen`), uses and stores (IndexedDB) the fastest. */
  tuneKernels(jobId: JobId, onProgress: ProgressListener, seqLen: number): Promise<TuneResult[]>;
  /** The kernel choices stored for this GPU adapter (shape key → version), and the key they are filed under. */
  storedKernelPicks(): Promise<{ adapter: string; picks: KernelPicks }>;
  /** GPU memory for training and inference from a model's config and this GPU's limits. */
  planModel(req: PlanRequest): Promise<PlanReport>;

  /** What serves completions (undefined until a model is loaded). */
  serving(): Promise<ServingInfo | undefined>;
  /** Serves the base model, or stored adapters mixed with weights (base weights stay loaded). */
  setServing(choice: ServingChoice): Promise<ServingInfo & { warnings: string[] }>;
  /** Repository context for completions that carry none: on or off (remembered), from the filtered sources' index. */
  setRepoContext(on: boolean): Promise<RepoContextStatus>;
  /** Whether it is on, the index, and what the last request got. */
  repoContext(): Promise<RepoContextStatus>;
  /** Adapters in browser storage (training checkpoints and imported ones). */
  listAdapters(): Promise<StoredAdapter[]>;
  importAdapter(name: string, files: Array<{ path: string; file: File }>): Promise<StoredAdapter>;
  removeAdapter(id: string): Promise<void>;
  /**
   * One completion (or chat answer, with `messages`) from what serves now, in the tab itself (the
   * Playground and the Chat panel without a bridge); each decoded piece of text is reported as
   * it comes, as a progress report's `detail` (reports can trail the result: the result's text is whole).
   */
  complete(jobId: JobId, onProgress: ProgressListener, request: CompletionRequest): Promise<CompletionResult>;
  /** Serves editors through this bridge's tab socket from now on (null: no bridge; the link stops). */
  linkBridge(target: BridgeTarget | null): Promise<void>;
  /** Writes what serves now (base + adapter mix) as hf | gguf-f16 | gguf-q8_0 | gguf-lora into OPFS exports/. */
  exportServing(jobId: JobId, onProgress: ProgressListener, format: string): Promise<ExportedFiles>;
}
