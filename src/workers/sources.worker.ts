// The sources worker: cloning, unpacking, storing and filtering, off the page's thread.
import './worker-globals.ts';
import * as Comlink from 'comlink';
import './error-transfer.ts';
import { JobHost } from './jobs.ts';
import { SourcesService } from '../data/sources-service.ts';
import type { SourcesApi } from './sources-api.ts';

const jobs = new JobHost();
// Until the page says otherwise (src/ui/shell/bridge.svelte.ts): the bridge that served the app, if any.
const service = new SourcesService({ kind: 'bridge', origin: self.location.origin });

/** Runs a job; its errors reach the page as themselves (error-transfer.ts). */
const job = <T>(id: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> => jobs.run(id, work);

const api: SourcesApi = {
  cancel: async (id) => jobs.cancel(id),
  list: () => service.list(),
  addGit: (id, p, req) => job(id, (s) => service.addGit(req, s, p)),
  pull: (id, p, sourceId) => job(id, (s) => service.pull(sourceId, s, p)),
  setToken: (id, token) => service.setToken(id, token),
  addArchive: (id, p, file, existing) => job(id, (s) => service.addArchive(file, existing, s, p)),
  addFiles: (id, p, name, files, test, existing) => job(id, (s) => service.addFiles(name, files, test, existing, s, p)),
  remove: (id) => service.remove(id),
  files: (id) => service.files(id),
  setTest: (id, paths, test) => service.setTest(id, paths, test),
  settings: () => service.settings(),
  runFilter: (id, p, settings) => job(id, (s) => service.runFilter(settings, s, p)),
  lastRun: () => service.lastRun(),
  decisions: () => service.decisions(),
  preview: (source, path) => service.preview(source, path),
  setGitRoute: async (route) => service.setGitRoute(route),
};

Comlink.expose(api);
