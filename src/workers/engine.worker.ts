// The engine worker: its own GPUDevice for models, the memory planner and completions (the
// training worker has another), reached by the pages through comlink (engine-client.ts).
import * as Comlink from 'comlink';
import { requestGpuDevice, type GpuContext } from '../gpu/device.ts';
import { GpuError } from '../gpu/errors.ts';
import { runSelfTest } from '../gpu/selftest.ts';
import { JobHost } from './jobs.ts';
import { ModelService, userMessage } from '../serve/model-service.ts';
import type { EngineApi, GpuStatus } from './engine-api.ts';
import { planModel } from '../train/plan-service.ts';
import { InferenceService } from '../serve/inference-service.ts';
import { BridgeLink } from '../serve/bridge-link.ts';
import { opfsAdapterSource, type AdapterSource } from '../model/storage/adapter-store.ts';

const jobs = new JobHost();
let gpu: Promise<GpuContext> | undefined;
let lostError: GpuError | undefined;

function context(): Promise<GpuContext> {
  gpu ??= requestGpuDevice((self.navigator as Navigator).gpu, {
    where: 'browser',
    onLost: (err) => {
      lostError = err;
      gpu = undefined; // the next job asks for a fresh device
    },
  });
  return gpu;
}

const models = new ModelService(async () => (await context()).device);
let adapterSource: Promise<AdapterSource> | undefined;
const inference = new InferenceService(models, () => (adapterSource ??= opfsAdapterSource()));
// The tab serves editors through the bridge that served it (same origin).
BridgeLink.forLocation(self.location, inference).start();
/** A model load changes what serves: tell the bridge. */
const served = <T>(p: Promise<T>): Promise<T> =>
  p.then((v) => {
    inference.changed();
    return v;
  });
/** Typed errors cross the worker boundary as their messages. */
const plain = async <T>(work: () => Promise<T>): Promise<T> => {
  try {
    return await work();
  } catch (err) {
    throw new Error(userMessage(err));
  }
};

/** Runs a model job; typed errors become messages the page can show as they are. */
function modelJob<T>(id: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  return jobs.runForPage(id, work, (err) => new Error(userMessage(err)));
}

const api: EngineApi = {
  async gpuStatus(): Promise<GpuStatus> {
    try {
      const ctx = await context();
      return { ok: true, info: ctx.info };
    } catch (err) {
      gpu = undefined;
      if (err instanceof GpuError) return { ok: false, code: err.code, message: err.message, hint: err.hint };
      return { ok: false, code: 'INTERNAL', message: String(err), hint: '' };
    }
  },

  async selfTest(jobId, onProgress, size) {
    return jobs.run(jobId, async (signal) => {
      if (lostError) {
        const e = lostError;
        lostError = undefined;
        throw e;
      }
      const { device } = await context();
      return runSelfTest(device, { n: size, signal, onProgress });
    });
  },

  async cancel(jobId) {
    return jobs.cancel(jobId);
  },

  catalog: async () => models.catalog(),
  cachedModels: () => models.cached(),
  downloadModel: (jobId, onProgress, repo, hub) => modelJob(jobId, (signal) => models.download(repo, hub, signal, onProgress)),
  deleteModel: (id) => models.remove(id),
  importModelFiles: (jobId, onProgress, files) => modelJob(jobId, (signal) => models.importFiles(files, signal, onProgress)),
  planModel: async (req) => {
    try {
      const { device } = await context();
      return await planModel(req, device.limits);
    } catch (err) {
      throw new Error(userMessage(err));
    }
  },
  loadCachedModel: (jobId, onProgress, id) => served(modelJob(jobId, (signal) => models.loadCached(id, signal, onProgress))),
  loadModelFiles: (jobId, onProgress, files) => served(modelJob(jobId, (signal) => models.loadFiles(files, signal, onProgress))),
  loss: async (text) => {
    try {
      return await models.loss(text);
    } catch (err) {
      throw new Error(userMessage(err));
    }
  },
  serving: async () => inference.serving(),
  setServing: (choice) => plain(() => inference.setServing(choice)),
  listAdapters: () => plain(async () => (await (adapterSource ??= opfsAdapterSource())).list()),
  importAdapter: (name, files) =>
    plain(async () =>
      (await (adapterSource ??= opfsAdapterSource())).import(name, new Map(files.map(({ path, file }) => [path.split('/').pop()!, file]))),
    ),
  removeAdapter: (id) => plain(async () => (await (adapterSource ??= opfsAdapterSource())).remove(id)),
};

Comlink.expose(api);
