// Page-side handle on the sources worker, typed from SourcesApi (the one contract).
import * as Comlink from 'comlink';
import './error-transfer.ts';
import type { SourcesApi } from './sources-api.ts';
import { workerClient, type WorkerClient } from './jobs.ts';

export type SourcesClient = WorkerClient<SourcesApi>;

export function createSourcesClient(): SourcesClient {
  const worker = new Worker(new URL('./sources.worker.ts', import.meta.url), { type: 'module', name: 'homecoder-sources' });
  return workerClient(Comlink.wrap<SourcesApi>(worker), { addGit: 1, pull: 1, addArchive: 2, addFiles: 4, runFilter: 1 });
}
