// Page-side handle on the training worker, typed from TrainApi (the one contract). One per
// tab: src/ui/shell/workers.ts holds it.
import * as Comlink from 'comlink';
import './error-transfer.ts';
import type { TrainApi } from './train-api.ts';
import { workerClient, type WorkerClient } from './jobs.ts';

export type TrainClient = WorkerClient<TrainApi>;

export function createTrainClient(): TrainClient {
  const worker = new Worker(new URL('./train.worker.ts', import.meta.url), { type: 'module', name: 'homecoder-train' });
  return workerClient(Comlink.wrap<TrainApi>(worker), { start: 2, resume: 2, evaluate: 1, filterByLoss: 3, exportJob: 1 });
}
