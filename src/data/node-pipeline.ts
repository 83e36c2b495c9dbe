// Headless sources → stage-1 filter → accepted files, for the CLI and Node training.
import picomatch from 'picomatch';
import type { ProgressListener } from '../progress.ts';
import type { FilterSettings } from './filter/settings.ts';
import { loadNodeSource, type LoadedSource, type NodeSourceOptions } from './node-sources.ts';
import { filterToTrainingFiles, type FilteredFiles } from './training-files.ts';
import type { FilterInput } from './filter/stage1.ts';

export interface ImportOptions extends NodeSourceOptions {
  /** Globs of paths to mark as the test set (a test file wins over a train duplicate). */
  test?: string[];
  settings?: Partial<FilterSettings>;
  onProgress?: ProgressListener;
}

export interface ImportedAndFiltered extends FilteredFiles {
  sources: Array<Omit<LoadedSource, 'files' | 'commits'> & { fileCount: number }>;
}

/**
 * Imports each PATH | URL | ARCHIVE, runs the same stage-1 filter as the browser over all
 * of them together, and returns every decision plus the accepted files as text.
 */
export async function importAndFilter(specs: string[], opts: ImportOptions = {}): Promise<ImportedAndFiltered> {
  const isTest = opts.test?.length ? picomatch(opts.test, { dot: true }) : () => false;
  const sources: ImportedAndFiltered['sources'] = [];
  const inputs: FilterInput[] = [];
  for (const spec of specs) {
    const s = await loadNodeSource(spec, opts);
    sources.push({ name: s.name, kind: s.kind, skipped: s.skipped, commit: s.commit, fileCount: s.files.length, history: s.history });
    for (const f of s.files) inputs.push({ source: s.name, path: f.path, bytes: f.bytes, test: isTest(f.path) });
    for (const c of s.commits ?? []) inputs.push({ source: s.name, path: c.path, bytes: c.bytes, kind: c.kind });
  }
  const r = await filterToTrainingFiles(inputs, opts.settings, { signal: opts.signal });
  return { ...r, sources };
}
