// UI-side handle on the training worker (one per tab, started on first use).
import * as Comlink from 'comlink';
import type { RunSummary, StartRequest, TrainApi, TrainModel, UpdateListener } from './train-api.ts';
import type { RunRecord } from '../train/run-record.ts';
import type { TrainSettings } from '../train/settings.ts';
import type { MemoryCheck } from '../train/memory-check.ts';
import type { LossDecision } from '../train/loss-filter.ts';
import type { TrainingFile } from '../data/types.ts';
import { startRemoteJob, type JobOptions } from './jobs.ts';

export interface TrainClient {
  models(): Promise<TrainModel[]>;
  runs(): Promise<RunSummary[]>;
  checkMemory(modelId: string, settings: Partial<TrainSettings>): Promise<MemoryCheck>;
  start(req: StartRequest, opts: JobOptions & { onUpdate: UpdateListener }): Promise<RunRecord>;
  resume(runId: string, opts: JobOptions & { onUpdate: UpdateListener }): Promise<RunRecord>;
  evaluate(runId: string, opts?: JobOptions): Promise<RunRecord>;
  filterByLoss(modelId: string, files: TrainingFile[], threshold: number, opts?: JobOptions): Promise<LossDecision[]>;
  exportAdapter(runId: string, step: number): Promise<Uint8Array>;
  deleteRun(runId: string): Promise<void>;
}

let client: TrainClient | undefined;

export function trainClient(): TrainClient {
  if (client) return client;
  const worker = new Worker(new URL('./train.worker.ts', import.meta.url), { type: 'module', name: 'homecoder-train' });
  const remote = Comlink.wrap<TrainApi>(worker);
  const cancel = (id: string) => remote.cancel(id);
  client = {
    models: () => remote.models(),
    runs: () => remote.runs(),
    checkMemory: (modelId, settings) => remote.checkMemory(modelId, settings),
    start: (req, o) => startRemoteJob(cancel, (id, p) => remote.start(id, p, Comlink.proxy(o.onUpdate), req), o),
    resume: (runId, o) => startRemoteJob(cancel, (id, p) => remote.resume(id, p, Comlink.proxy(o.onUpdate), runId), o),
    evaluate: (runId, o = {}) => startRemoteJob(cancel, (id, p) => remote.evaluate(id, p, runId), o),
    filterByLoss: (modelId, files, threshold, o = {}) =>
      startRemoteJob(cancel, (id, p) => remote.filterByLoss(id, p, modelId, files, threshold), o),
    exportAdapter: (runId, step) => remote.exportAdapter(runId, step),
    deleteRun: (runId) => remote.deleteRun(runId),
  };
  return client;
}
