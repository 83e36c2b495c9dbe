// The training worker: its own GPUDevice, one training job at a time, reached by the
// pages through comlink. Errors reach the page as themselves (error-transfer.ts).
import * as Comlink from 'comlink';
import './error-transfer.ts';
import { requestGpuDevice, type GpuContext } from '../gpu/device.ts';
import { JobHost } from './jobs.ts';
import { TrainService } from '../train/train-service.ts';
import type { TrainApi } from './train-api.ts';

const jobs = new JobHost();
let gpu: Promise<GpuContext> | undefined;
function device(): Promise<GPUDevice> {
  gpu ??= requestGpuDevice((self.navigator as Navigator).gpu, { where: 'browser', onLost: () => (gpu = undefined) });
  return gpu.then((g) => g.device);
}
const service = new TrainService(device);

/** Runs a job; its errors reach the page as themselves, a cancellation as an AbortError. */
const job = <T>(id: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> => jobs.run(id, work);

const api: TrainApi = {
  models: () => service.models(),
  runs: () => service.runs(),
  checkMemory: (modelId, settings) => service.checkMemory(modelId, settings),
  start: (jobId, onProgress, req, onUpdate) => job(jobId, (signal) => service.start(req, signal, onProgress, onUpdate)),
  resume: (jobId, onProgress, runId, onUpdate) => job(jobId, (signal) => service.resume(runId, signal, onProgress, onUpdate)),
  evaluate: (jobId, onProgress, runId) => job(jobId, (signal) => service.evaluate(runId, signal, onProgress)),
  filterByLoss: (jobId, onProgress, modelId, files, threshold) =>
    job(jobId, (signal) => service.filterByLoss(modelId, files, threshold, signal, onProgress)),
  requestCheckpoint: async () => service.requestCheckpoint(),
  lossFilterCost: (modelId, files) => service.lossFilterCost(modelId, files),
  previewDataset: (modelId, files, supervised, settings) => service.previewDataset(modelId, files, supervised, settings),
  cancel: async (jobId) => jobs.cancel(jobId, 'Stopped by the user.'),
  exportAdapter: async (runId, step) => {
    const zip = await service.exportAdapter(runId, step);
    return Comlink.transfer(zip, [zip.buffer]);
  },
  deleteRun: (runId) => service.deleteRun(runId),
  exportJob: (jobId, onProgress, req) => job(jobId, (signal) => service.exportJob(req, signal, onProgress)),
};

Comlink.expose(api);
