// UI-side handle on the engine worker, typed from EngineApi (the one contract).
import * as Comlink from 'comlink';
import './error-transfer.ts';
import type { EngineApi } from './engine-api.ts';
import { workerClient, type WorkerClient } from './jobs.ts';

export type EngineClient = WorkerClient<EngineApi>;

export function createEngineClient(): EngineClient {
  const worker = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'homecoder-engine' });
  return workerClient(Comlink.wrap<EngineApi>(worker), {
    selfTest: 1,
    downloadModel: 2,
    loadCachedModel: 1,
    loadModelFiles: 1,
    importModelFiles: 1,
    exportServing: 1,
    tuneKernels: 1,
    complete: 1,
  });
}
