// What the training side reads: the accepted files as text, from wherever they were filtered.
//
//   Browser:  for await (const f of acceptedTrainingFiles()) …   (IndexedDB, see store/)
//   Node:     const { accepted } = await importAndFilter(['repo/', 'https://…', 'x.tar.gz'])
//
// Both give TrainingFile {path, source, text, test}; `test` is the user's test-set mark.
import { fileText } from './filter/notebook.ts';
import { commitText } from './filter/commits.ts';
import { readCommitEntry } from './sources/history.ts';
import { filterFiles, type FactsCache, type FilterInput } from './filter/stage1.ts';
import type { FilterSettings } from './filter/settings.ts';
import type { FilterSummary } from './filter/summary.ts';
import type { FileDecision, TrainingFile } from './types.ts';

export type { TrainingFile };

/** What training reads of an accepted entry: a commit in the plain commit format, a file's text. */
function entryFile(d: FileDecision, source: string, bytes: Uint8Array): TrainingFile {
  if (d.kind === 'commit') return { path: d.path, source, text: commitText(readCommitEntry(bytes)), test: false, kind: 'commit' };
  return { path: d.path, source, text: fileText(d.path, bytes), test: d.test };
}

/** Pairs decisions with their files' bytes and returns the accepted ones as text. */
export function acceptedFrom(decisions: FileDecision[], bytesOf: (source: string, path: string) => Uint8Array | undefined): TrainingFile[] {
  const out: TrainingFile[] = [];
  for (const d of decisions) {
    if (!d.accepted) continue;
    const bytes = bytesOf(d.source, d.path);
    if (bytes) out.push(entryFile(d, d.source, bytes));
  }
  return out;
}

export interface FilteredFiles {
  decisions: FileDecision[];
  summary: FilterSummary;
  accepted: TrainingFile[];
}

/** Filters in-memory files and returns the decisions with the accepted files' text. */
export async function filterToTrainingFiles(
  files: FilterInput[],
  settings: Partial<FilterSettings> = {},
  opts: { signal?: AbortSignal; cache?: FactsCache } = {},
): Promise<FilteredFiles> {
  const { decisions, summary } = await filterFiles(files, settings, opts);
  const index = new Map(files.map((f) => [`${f.source}\u0000${f.path}`, f.bytes]));
  return { decisions, summary, accepted: acceptedFrom(decisions, (s, p) => index.get(`${s}\u0000${p}`)) };
}

/**
 * Browser (or any place with IndexedDB): the accepted files of the last filter run, as text,
 * one at a time (a source set can be larger than memory wants at once).
 */
export async function* acceptedTrainingFiles(storeName?: string): AsyncGenerator<TrainingFile> {
  const { SourceStore } = await import('./store/source-store.ts');
  const store = await SourceStore.open(storeName);
  try {
    // Decisions carry the source's id; training sees its name (the URL, archive or folder).
    const names = new Map((await store.sources()).map((s) => [s.id, s.name]));
    for (const d of await store.decisions()) {
      if (!d.accepted) continue;
      const f = await store.file(d.source, d.path);
      if (f) yield entryFile(d, names.get(d.source) ?? d.source, f.bytes);
    }
  } finally {
    store.close();
  }
}
