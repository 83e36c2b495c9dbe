// The contract between the pages and the sources worker (sources, filter, storage).
import type { ProgressListener } from '../progress.ts';
import type { FilterSettings } from '../data/filter/settings.ts';
import type { FilterRun, StoredFile } from '../data/store/source-store.ts';
import type { FileDecision } from '../data/types.ts';
import type { AddResult, FilterRunResult, GitRequest, PublicSource } from '../data/sources-service.ts';

export type { AddResult, FilterRunResult, GitRequest, PublicSource, FilterRun };
export type FileMeta = Omit<StoredFile, 'bytes'>;

export interface SourcesApi {
  cancel(jobId: string): Promise<boolean>;
  list(): Promise<PublicSource[]>;
  addGit(jobId: string, onProgress: ProgressListener, req: GitRequest): Promise<AddResult>;
  pull(jobId: string, onProgress: ProgressListener, id: string): Promise<AddResult>;
  setToken(id: string, token: string): Promise<void>;
  addArchive(jobId: string, onProgress: ProgressListener, file: File): Promise<AddResult>;
  addFiles(
    jobId: string,
    onProgress: ProgressListener,
    name: string,
    files: Array<{ path: string; file: File }>,
    test: boolean,
  ): Promise<AddResult>;
  remove(id: string): Promise<void>;
  files(id: string): Promise<FileMeta[]>;
  setTest(id: string, paths: string[] | 'all', test: boolean): Promise<number>;
  settings(): Promise<FilterSettings>;
  runFilter(jobId: string, onProgress: ProgressListener, settings: Partial<FilterSettings>): Promise<FilterRunResult>;
  lastRun(): Promise<FilterRun | null>;
  decisions(): Promise<FileDecision[]>;
  preview(source: string, path: string): Promise<{ text: string; truncated: boolean } | null>;
}
