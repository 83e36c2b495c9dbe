// UI-side handle on the engine worker.
import * as Comlink from 'comlink';
import type { EngineApi, GpuStatus } from './engine-api.ts';
import type { SelfTestResult } from '../gpu/selftest.ts';
import { startJob, type JobOptions } from './jobs.ts';

export interface EngineClient {
  gpuStatus(): Promise<GpuStatus>;
  selfTest(opts?: JobOptions & { size?: number }): Promise<SelfTestResult>;
}

export function createEngineClient(): EngineClient {
  const worker = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'homecoder-engine' });
  const remote = Comlink.wrap<EngineApi>(worker);
  return {
    gpuStatus: () => remote.gpuStatus(),
    selfTest: (opts = {}) =>
      startJob(
        (id) => remote.cancel(id),
        (id) => remote.selfTest(id, Comlink.proxy(opts.onProgress ?? (() => {})), opts.size),
        opts,
      ),
  };
}
