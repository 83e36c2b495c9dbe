// Where downloaded models live: one folder per model with its files and a manifest of
// what is complete. Implemented on OPFS in the browser (opfs-store.ts) and on disk in
// Node (node-store.ts); the downloader only sees this interface.
import type { ModelFiles } from './files.ts';

export interface ManifestFile {
  size?: number;
  sha256?: string;
  done: boolean;
}

export interface Manifest {
  id: string;
  repo: string;
  revision: string;
  endpoint: string;
  architecture: string;
  files: Record<string, ManifestFile>;
  complete: boolean;
  updatedAt: string;
}

export interface FileWriter {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export interface ModelFolder {
  /** Bytes of `name` stored so far (0 when absent). */
  size(name: string): Promise<number>;
  /** Writes from byte `from` on (what was after it is discarded). Data is durable as written. */
  writer(name: string, from: number): Promise<FileWriter>;
  /** Reads a stored file in chunks (for hashing). */
  chunks(name: string, chunkSize?: number): AsyncIterable<Uint8Array>;
  remove(name: string): Promise<void>;
  readManifest(): Promise<Manifest | undefined>;
  writeManifest(m: Manifest): Promise<void>;
  /** The folder as model files, for loading. */
  files(): ModelFiles;
}

export interface ModelStore {
  folder(id: string): Promise<ModelFolder>;
  list(): Promise<Manifest[]>;
  remove(id: string): Promise<void>;
}

/** A folder name for a repo id and revision. */
export function modelId(repo: string, revision: string): string {
  return `${repo.replace('/', '--')}${revision === 'main' ? '' : `@${revision}`}`.replace(/[^\w.@-]/g, '_');
}
