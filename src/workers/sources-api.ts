// The contract between the pages and the sources worker (sources, filter, storage): the
// worker implements SourcesApi, the page's client is typed from it (WorkerClient in jobs.ts).
import type { ProgressListener } from '../progress.ts';
import type { CancellableApi, JobId } from './jobs.ts';
import type { FilterSettings } from '../data/filter/settings.ts';
import type { FilterRun, StoredFile } from '../data/store/source-store.ts';
import type { FileDecision } from '../data/types.ts';
import type { AddResult, ExistingChoice, FilterRunResult, GitRequest, PublicSource } from '../data/sources-service.ts';
import type { GitRoute } from '../data/sources/git-url.ts';

export type { AddResult, ExistingChoice, FilterRunResult, GitRequest, PublicSource, FilterRun };
export type FileMeta = Omit<StoredFile, 'bytes'>;

export interface SourcesApi extends CancellableApi {
  list(): Promise<PublicSource[]>;
  addGit(jobId: JobId, onProgress: ProgressListener, req: GitRequest): Promise<AddResult>;
  pull(jobId: JobId, onProgress: ProgressListener, id: string): Promise<AddResult>;
  setToken(id: string, token: string): Promise<void>;
  addArchive(jobId: JobId, onProgress: ProgressListener, file: File, existing: ExistingChoice): Promise<AddResult>;
  addFiles(
    jobId: JobId,
    onProgress: ProgressListener,
    name: string,
    files: Array<{ path: string; file: File }>,
    test: boolean,
    existing: ExistingChoice,
  ): Promise<AddResult>;
  remove(id: string): Promise<void>;
  files(id: string): Promise<FileMeta[]>;
  setTest(id: string, paths: string[] | 'all', test: boolean): Promise<number>;
  settings(): Promise<FilterSettings>;
  runFilter(jobId: JobId, onProgress: ProgressListener, settings: Partial<FilterSettings>): Promise<FilterRunResult>;
  lastRun(): Promise<FilterRun | null>;
  decisions(): Promise<FileDecision[]>;
  preview(source: string, path: string): Promise<{ text: string; truncated: boolean } | null>;
  /** How clones reach git hosts: a bridge (same origin or paired), a CORS proxy the user set, or none. */
  setGitRoute(route: GitRoute): Promise<void>;
}
