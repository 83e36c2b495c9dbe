// The engine worker: models, inference and the planner on the GPU (the training worker has
// its own device). Errors reach the page as themselves (error-transfer.ts).
import * as Comlink from 'comlink';
import './error-transfer.ts';
import { requestGpuDevice, type GpuContext } from '../gpu/device.ts';
import { GpuError } from '../gpu/errors.ts';
import { runSelfTest } from '../gpu/selftest.ts';
import { JobHost } from './jobs.ts';
import { ModelService } from '../serve/model-service.ts';
import type { EngineApi, GpuStatus } from './engine-api.ts';
import { planModel } from '../train/plan-service.ts';
import { InferenceService } from '../serve/inference-service.ts';
import { BridgeLink } from '../serve/bridge-link.ts';
import { opfsAdapterSource, type AdapterSource } from '../model/storage/adapter-store.ts';
import { opfsServingMemory, restoreServing, type RestoreState } from '../serve/serving-memory.ts';
import { exportServing } from '../serve/export-service.ts';
import { storedPicks } from '../gpu/browser-tune.ts';
import type { RepoContextStore } from '../serve/inference-service.ts';
import { RepoIndex, REPO_INDEX_CHANNEL } from '../data/repo-index.ts';
import { SourceStore } from '../data/store/source-store.ts';

/** The index the sources worker stores after each filter run, and the Use page's on/off, in its IndexedDB. */
function sourcesRepoContext(): RepoContextStore {
  const withStore = async <T>(fn: (s: SourceStore) => Promise<T>): Promise<T> => {
    const s = await SourceStore.open();
    try {
      return await fn(s);
    } finally {
      s.close();
    }
  };
  return {
    load: () =>
      withStore(async (s) => {
        const stored = await s.repoIndex();
        return stored ? { search: new RepoIndex(stored.chunks), snippets: stored.chunks.length, at: stored.at } : undefined;
      }),
    isOn: () => withStore((s) => s.repoContextOn()),
    setOn: (on) => withStore((s) => s.setRepoContextOn(on)),
  };
}

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
const adapters = () => (adapterSource ??= opfsAdapterSource());
const inference = new InferenceService(models, adapters, sourcesRepoContext());
// Repository context comes back on after a reload if it was on, and follows each filter run.
const repoRestored = inference.refreshRepoContext().catch(() => undefined);
if (typeof BroadcastChannel !== 'undefined')
  new BroadcastChannel(REPO_INDEX_CHANNEL).onmessage = () => void inference.refreshRepoContext().catch(() => undefined);
// The tab serves editors through a bridge once the page has found one (src/ui/shell/bridge.svelte.ts).
let link: BridgeLink | undefined;
// What served before a reload comes back by itself; each change of it is remembered.
const memory = opfsServingMemory();
let restore: RestoreState = { state: 'none' };
let servedModelId: string | undefined;
let known: () => void;
/** Settles once the remembered choice has been read: before that, "nothing to restore" would be a guess. */
const restoreKnown = new Promise<void>((resolve) => (known = resolve));
const restored = restoreServing(memory, models, inference, (s) => {
  restore = s;
  if (s.state === 'done') servedModelId = s.modelId;
  known();
});
/** A model load changes what serves: tell the bridge. */
const served = <T>(p: Promise<T>): Promise<T> =>
  p.then((v) => {
    inference.changed();
    return v;
  });
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
  downloadModel: (jobId, onProgress, repo, hub) => jobs.run(jobId, (signal) => models.download(repo, hub, signal, onProgress)),
  deleteModel: (id) => models.remove(id),
  importModelFiles: (jobId, onProgress, files) => jobs.run(jobId, (signal) => models.importFiles(files, signal, onProgress)),
  tuneKernels: (jobId, onProgress, seqLen) => jobs.run(jobId, (signal) => models.tuneKernels(seqLen, signal, onProgress)),
  storedKernelPicks: async () => storedPicks((await context()).device),
  planModel: async (req) => planModel(req, (await context()).device.limits),
  loadCachedModel: async (jobId, onProgress, id) => {
    await restored; // one load at a time: a restore under way finishes first
    const info = await served(jobs.run(jobId, (signal) => models.loadCached(id, signal, onProgress)));
    servedModelId = id;
    await memory.write({ modelId: id, choice: { adapters: [], combination: 'cat' } });
    return info;
  },
  loadModelFiles: async (jobId, onProgress, files) => {
    await restored;
    const info = await served(jobs.run(jobId, (signal) => models.loadFiles(files, signal, onProgress)));
    servedModelId = undefined; // picked files are not in browser storage: nothing to bring back
    await memory.write(undefined);
    return info;
  },
  restoreState: async () => {
    await restoreKnown;
    return restore;
  },
  loadedModel: async () => models.current?.info,
  loss: (text) => models.loss(text),
  serving: async () => inference.serving(),
  setServing: async (choice) => {
    const r = await inference.setServing(choice);
    if (servedModelId) await memory.write({ modelId: servedModelId, choice });
    return r;
  },
  setRepoContext: (on) => inference.setRepoContext(on),
  repoContext: async () => {
    await repoRestored; // after a reload, answer once the remembered setting is back
    return inference.repoContextStatus();
  },
  // Each look at the stored adapters also refreshes the names editors pick them by (inference.changed).
  listAdapters: async () => served((await adapters()).list()),
  importAdapter: async (name, files) =>
    served((await adapters()).import(name, new Map(files.map(({ path, file }) => [path.split('/').pop()!, file])))),
  removeAdapter: async (id) => served((await adapters()).remove(id)),
  // Each piece of text as it is decoded goes to the page as a progress report (its `detail`).
  complete: (jobId, onProgress, request) =>
    jobs.run(jobId, (signal) => {
      let n = 0;
      const onText = (d: string) => onProgress({ phase: 'generating', done: ++n, total: request.maxTokens, detail: d });
      return inference.complete(request, { signal, onText });
    }),
  linkBridge: async (target) => {
    link?.stop();
    link = target ? new BridgeLink(target, inference) : undefined;
    link?.start();
  },
  exportServing: (jobId, onProgress, format) =>
    jobs.run(jobId, async (signal) => exportServing(models, inference, await adapters(), format, signal, onProgress)),
};

Comlink.expose(api);
