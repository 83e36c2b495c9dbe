// Page-side handle on the sources worker.
import * as Comlink from 'comlink';
import { startRemoteJob, type JobOptions } from './jobs.ts';
import type { ProgressListener } from '../progress.ts';
import type { SourcesApi } from './sources-api.ts';

type JobMethods = 'addGit' | 'pull' | 'addArchive' | 'addFiles' | 'runFilter';
type Rest<F> = F extends (jobId: string, onProgress: ProgressListener, ...rest: infer R) => infer Ret
  ? (...args: [...R, JobOptions?]) => Ret
  : never;

export type SourcesClient = Omit<SourcesApi, JobMethods | 'cancel'> & { [K in JobMethods]: Rest<SourcesApi[K]> };

export function createSourcesClient(): SourcesClient {
  const worker = new Worker(new URL('./sources.worker.ts', import.meta.url), { type: 'module', name: 'homecoder-sources' });
  const remote = Comlink.wrap<SourcesApi>(worker);
  const job = <T>(opts: JobOptions | undefined, start: (id: string, p: ProgressListener) => Promise<T>) =>
    startRemoteJob((id) => remote.cancel(id), start, opts);
  return {
    list: () => remote.list(),
    addGit: (req, opts) => job(opts, (id, p) => remote.addGit(id, p, req)),
    pull: (sourceId, opts) => job(opts, (id, p) => remote.pull(id, p, sourceId)),
    setToken: (id, token) => remote.setToken(id, token),
    addArchive: (file, opts) => job(opts, (id, p) => remote.addArchive(id, p, file)),
    addFiles: (name, files, test, opts) => job(opts, (id, p) => remote.addFiles(id, p, name, files, test)),
    remove: (id) => remote.remove(id),
    files: (id) => remote.files(id),
    setTest: (id, paths, test) => remote.setTest(id, paths, test),
    settings: () => remote.settings(),
    runFilter: (settings, opts) => job(opts, (id, p) => remote.runFilter(id, p, settings)),
    lastRun: () => remote.lastRun(),
    decisions: () => remote.decisions(),
    preview: (source, path) => remote.preview(source, path),
  };
}
