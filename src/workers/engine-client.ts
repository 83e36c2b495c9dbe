// UI-side handle on the engine worker.
import * as Comlink from 'comlink';
import type { EngineApi, GpuStatus, HubSettings, LoadedModelInfo, PlanReport, PlanRequest } from './engine-api.ts';
import type { CatalogEntry } from '../model/catalog.ts';
import type { Manifest } from '../model/storage/store.ts';
import type { SelfTestResult } from '../gpu/selftest.ts';
import { startRemoteJob, type JobOptions } from './jobs.ts';
import type { ProgressListener } from '../progress.ts';
import type { ServingInfo } from '../serve/types.ts';
import type { ServingChoice } from '../serve/inference-service.ts';
import type { StoredAdapter } from '../model/storage/adapter-store.ts';

export interface EngineClient {
  gpuStatus(): Promise<GpuStatus>;
  selfTest(opts?: JobOptions & { size?: number }): Promise<SelfTestResult>;
  catalog(): Promise<CatalogEntry[]>;
  cachedModels(): Promise<Array<Manifest & { bytes: number }>>;
  downloadModel(repo: string, hub: HubSettings, opts?: JobOptions): Promise<Manifest>;
  deleteModel(id: string): Promise<void>;
  loadCachedModel(id: string, opts?: JobOptions): Promise<LoadedModelInfo>;
  loadModelFiles(files: Array<{ path: string; file: File }>, opts?: JobOptions): Promise<LoadedModelInfo>;
  loss(text: string): Promise<{ tokens: number; loss: number }>;
  importModelFiles(files: Array<{ path: string; file: File }>, opts?: JobOptions): Promise<Manifest>;
  planModel(req: PlanRequest): Promise<PlanReport>;
  serving(): Promise<ServingInfo | undefined>;
  setServing(choice: ServingChoice): Promise<ServingInfo & { warnings: string[] }>;
  listAdapters(): Promise<StoredAdapter[]>;
  importAdapter(name: string, files: Array<{ path: string; file: File }>): Promise<StoredAdapter>;
  removeAdapter(id: string): Promise<void>;
}

export function createEngineClient(): EngineClient {
  const worker = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'homecoder-engine' });
  const remote = Comlink.wrap<EngineApi>(worker);
  const job = <T>(opts: JobOptions, start: (id: string, onProgress: ProgressListener) => Promise<T>) =>
    startRemoteJob((id) => remote.cancel(id), start, opts);
  return {
    gpuStatus: () => remote.gpuStatus(),
    selfTest: (opts = {}) => job(opts, (id, p) => remote.selfTest(id, p, opts.size)),
    catalog: () => remote.catalog(),
    cachedModels: () => remote.cachedModels(),
    downloadModel: (repo, hub, opts = {}) => job(opts, (id, p) => remote.downloadModel(id, p, repo, hub)),
    deleteModel: (id) => remote.deleteModel(id),
    loadCachedModel: (modelId, opts = {}) => job(opts, (id, p) => remote.loadCachedModel(id, p, modelId)),
    loadModelFiles: (files, opts = {}) => job(opts, (id, p) => remote.loadModelFiles(id, p, files)),
    loss: (text) => remote.loss(text),
    importModelFiles: (files, opts = {}) => job(opts, (id, p) => remote.importModelFiles(id, p, files)),
    planModel: (req) => remote.planModel(req),
    serving: () => remote.serving(),
    setServing: (choice) => remote.setServing(choice),
    listAdapters: () => remote.listAdapters(),
    importAdapter: (name, files) => remote.importAdapter(name, files),
    removeAdapter: (id) => remote.removeAdapter(id),
  };
}
