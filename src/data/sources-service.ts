// The work behind the Sources and Filter pages, run inside the sources worker: clones into
// lightning-fs (one IndexedDB database per repository), archives, files, and the stage-1
// filter over everything stored, with progress and cancellation.
import LightningFS from '@isomorphic-git/lightning-fs';
import type { PromiseFsClient } from 'isomorphic-git';
import type { ProgressListener } from '../progress.ts';
import { SourceError } from './errors.ts';
import { readArchive } from './sources/archive.ts';
import { fetchHttpClient, gitClone, gitFetchLatest, readCommitFiles } from './sources/git.ts';
import { parseRepoUrl, routedRepoUrl, type GitRoute } from './sources/git-url.ts';
import { commitEntry, readCommitEntry, readHistory } from './sources/history.ts';
import { commitText } from './filter/commits.ts';
import { filterFiles } from './filter/stage1.ts';
import { fileText, isNotebook } from './filter/notebook.ts';
import { withDefaults, type FilterSettings } from './filter/settings.ts';
import { contentHash, decodeText, type ContentFacts } from './filter/content.ts';
import { chunkFile, REPO_INDEX_CHANNEL } from './repo-index.ts';
import { SourceStore, type FileChanges, type FilterRun } from './store/source-store.ts';
import type { FileDecision, SourceFile, SourceRecord } from './types.ts';

export interface GitRequest {
  url: string;
  ref?: string;
  depth?: number;
  /** Kept only in this browser's IndexedDB; sent only (through the bridge) to the git host. */
  token?: string;
}

export interface AddResult {
  source: SourceRecord;
  changes: FileChanges;
  skipped: Array<{ path: string; why: string }>;
}

export interface FilterRunResult extends FilterRun {
  total: number;
}

/**
 * What to do when a source of the same kind and name is already stored: 'ask' fails with
 * SOURCE_EXISTS (the page offers the choice), 'add' stores another one, `{ replace: id }`
 * stores these files in place of that source's (same id, so the filter sees changes only).
 */
export type ExistingChoice = 'ask' | 'add' | { replace: string };

export type PublicSource = Omit<SourceRecord, 'token'> & { hasToken: boolean };

const gitFsName = (id: string) => `homecoder-git-${id}`;

function newId(): string {
  return `s${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;
}

export function publicSource(s: SourceRecord): PublicSource {
  const { token, ...rest } = s;
  return { ...rest, hasToken: !!token };
}

export class SourcesService {
  private storeP: Promise<SourceStore> | undefined;
  constructor(private gitRoute: GitRoute) {}

  /** Where clones go from now on (the page learns whether a bridge is there after the worker starts). */
  setGitRoute(route: GitRoute): void {
    this.gitRoute = route;
  }

  private store(): Promise<SourceStore> {
    this.storeP ??= SourceStore.open();
    return this.storeP;
  }

  async list(): Promise<PublicSource[]> {
    return (await (await this.store()).sources()).map(publicSource);
  }

  private gitOptions(rec: SourceRecord, fs: PromiseFsClient, signal: AbortSignal, onProgress: ProgressListener) {
    const url = parseRepoUrl(rec.url!);
    const route = this.gitRoute;
    return {
      fs,
      http: fetchHttpClient(signal, undefined, route.kind === 'bridge' ? route.headers : undefined),
      dir: '/repo',
      url: routedRepoUrl(route, url),
      shownUrl: url.href,
      ref: rec.ref,
      // History depth N > 1 takes N commits: N + 1 are fetched, so the oldest has its parent.
      depth: rec.depth && rec.depth > 1 ? rec.depth + 1 : rec.depth,
      token: rec.token,
      signal,
      onProgress,
    };
  }

  /** The files of the fetched commit and, with a history depth above 1, its latest commits as entries. */
  private async readClone(
    rec: SourceRecord,
    fs: PromiseFsClient,
    dir: string,
    commit: string,
    signal: AbortSignal,
    onProgress: ProgressListener,
  ) {
    const files = await readCommitFiles(fs, dir, commit, { signal, onProgress });
    if ((rec.depth ?? 1) <= 1) return files;
    const history = await readHistory(fs, dir, commit, { max: rec.depth!, label: rec.url, signal, onProgress });
    return [...files, ...history.commits.map(commitEntry)];
  }

  async addGit(req: GitRequest, signal: AbortSignal, onProgress: ProgressListener): Promise<AddResult> {
    const url = parseRepoUrl(req.url);
    const depth = req.depth && req.depth > 0 ? Math.floor(req.depth) : 1;
    const now = Date.now();
    const rec: SourceRecord = {
      id: newId(),
      kind: 'git',
      name: url.href,
      url: url.href,
      ref: req.ref?.trim() || undefined,
      depth,
      token: req.token || undefined,
      addedAt: now,
      updatedAt: now,
      fileCount: 0,
      bytes: 0,
    };
    const lfs = new LightningFS(gitFsName(rec.id), { wipe: true });
    try {
      const o = this.gitOptions(rec, lfs.promises as unknown as PromiseFsClient, signal, onProgress);
      const commit = await gitClone(o);
      const files = await this.readClone(rec, o.fs, o.dir, commit, signal, onProgress);
      onProgress({ phase: 'storing', done: 0, total: files.length });
      const { record, changes } = await (await this.store()).putSource({ ...rec, commit }, files);
      return { source: record, changes, skipped: [] };
    } catch (err) {
      indexedDB.deleteDatabase(gitFsName(rec.id)); // nothing half-cloned stays behind
      throw err;
    }
  }

  /** Fetches the repository again and stores what changed; the caller re-runs the filter. */
  async pull(id: string, signal: AbortSignal, onProgress: ProgressListener): Promise<AddResult> {
    const store = await this.store();
    const rec = await store.source(id);
    if (rec?.kind !== 'git') throw new SourceError('SOURCE_NOT_FOUND', 'That repository is no longer in the list: reload the page.');
    const lfs = new LightningFS(gitFsName(id));
    const o = this.gitOptions(rec, lfs.promises as unknown as PromiseFsClient, signal, onProgress);
    const commit = await gitFetchLatest(o);
    const files = await this.readClone(rec, o.fs, o.dir, commit, signal, onProgress);
    const { record, changes } = await store.putSource(
      { ...rec, commit, updatedAt: commit === rec.commit ? rec.updatedAt : Date.now() },
      files,
    );
    return { source: record, changes, skipped: [] };
  }

  async setToken(id: string, token: string): Promise<void> {
    const store = await this.store();
    const rec = await store.source(id);
    if (rec) await store.updateSource({ ...rec, token: token || undefined });
  }

  /**
   * The record these files are stored under: a new one, or (replacing) the existing one's id
   * and added date. With 'ask', a source of the same kind and name fails with SOURCE_EXISTS,
   * saying whether its content is the same, so the page can offer to replace it.
   */
  private async target(
    kind: 'archive' | 'files',
    name: string,
    files: SourceFile[],
    existing: ExistingChoice,
  ): Promise<Omit<SourceRecord, 'fileCount' | 'bytes'>> {
    const store = await this.store();
    const now = Date.now();
    const sameContent = async (id: string) => {
      const stored = new Map((await store.fileList(id)).map((f) => [f.path, f]));
      return (
        stored.size === files.length &&
        files.every((f) => {
          const old = stored.get(f.path);
          return old?.sha === contentHash(f.bytes) && (f.test === undefined || f.test === old.test);
        })
      );
    };
    if (typeof existing === 'object') {
      const old = await store.source(existing.replace);
      if (!old) throw new SourceError('SOURCE_NOT_FOUND', 'The source to replace is no longer in the list: add the files again.');
      // The same content keeps its stamp: the filter's decisions stay current.
      return { id: old.id, kind, name, addedAt: old.addedAt, updatedAt: (await sameContent(old.id)) ? old.updatedAt : now };
    }
    if (existing === 'ask') {
      const old = (await store.sources()).find((s) => s.kind === kind && s.name === name);
      if (old) {
        const same = await sameContent(old.id);
        throw new SourceError(
          'SOURCE_EXISTS',
          same
            ? `"${name}" is already a source, with the same content: replace it (nothing changes), or add it again as another source.`
            : `"${name}" is already a source, with different content: replace it with this one, or add this one as another source.`,
          { data: { id: old.id, name, sameContent: same } },
        );
      }
    }
    return { id: newId(), kind, name, addedAt: now, updatedAt: now };
  }

  async addArchive(file: File, existing: ExistingChoice, signal: AbortSignal, onProgress: ProgressListener): Promise<AddResult> {
    onProgress({ phase: 'reading', done: 0, total: file.size, detail: file.name });
    const bytes = new Uint8Array(await file.arrayBuffer());
    signal.throwIfAborted();
    onProgress({ phase: 'unpacking', done: 0, total: bytes.length, detail: file.name });
    const a = await readArchive(file.name, bytes);
    signal.throwIfAborted();
    const rec = await this.target('archive', file.name, a.files, existing);
    onProgress({ phase: 'storing', done: 0, total: a.files.length, detail: file.name });
    const { record, changes } = await (await this.store()).putSource(rec, a.files);
    return { source: record, changes, skipped: a.skipped };
  }

  /** Single files or a folder (paths relative to it), optionally all marked as the test set. */
  async addFiles(
    name: string,
    files: Array<{ path: string; file: File }>,
    test: boolean,
    existing: ExistingChoice,
    signal: AbortSignal,
    onProgress: ProgressListener,
  ): Promise<AddResult> {
    if (!files.length) throw new SourceError('SOURCE_EMPTY', `"${name}" holds no files.`);
    const read: SourceFile[] = [];
    for (const [i, f] of files.entries()) {
      signal.throwIfAborted();
      read.push({ path: f.path, bytes: new Uint8Array(await f.file.arrayBuffer()), test });
      if (i % 100 === 0) onProgress({ phase: 'reading', done: i, total: files.length, detail: f.path });
    }
    const rec = await this.target('files', name, read, existing);
    const { record, changes } = await (await this.store()).putSource(rec, read);
    return { source: record, changes, skipped: [] };
  }

  async remove(id: string): Promise<void> {
    await (await this.store()).removeSource(id);
    indexedDB.deleteDatabase(gitFsName(id));
  }

  async files(id: string) {
    return (await this.store()).fileList(id);
  }

  async setTest(id: string, paths: string[] | 'all', test: boolean): Promise<number> {
    return (await this.store()).setTest(id, paths, test);
  }

  async settings(): Promise<FilterSettings> {
    return withDefaults(await (await this.store()).settings());
  }

  /** Runs stage 1 over every stored file; content facts are reused for unchanged files. */
  async runFilter(settings: Partial<FilterSettings>, signal: AbortSignal, onProgress: ProgressListener): Promise<FilterRunResult> {
    const store = await this.store();
    const s = withDefaults(settings);
    await store.saveSettings(s);
    onProgress({ phase: 'loading', done: 0, total: 0 });
    const files = await store.allFiles();
    const cache = await store.facts(files.map((f) => f.sha));
    const known = new Set(cache.keys());
    const names = new Map((await store.sources()).map((x) => [x.id, x.name]));
    const result = await filterFiles(
      files.map((f) => ({ source: f.source, path: f.path, bytes: f.bytes, test: f.test, sha: f.sha, kind: f.kind })),
      s,
      { signal, onProgress, cache, sourceName: (id) => names.get(id) ?? 'a removed source' },
    );
    const fresh: ContentFacts[] = [];
    for (const [sha, f] of cache) if (!known.has(sha)) fresh.push(f);
    onProgress({ phase: 'saving', done: 0, total: result.decisions.length });
    const seen = Object.fromEntries((await store.sources()).map((x) => [x.id, x.updatedAt]));
    const run: FilterRun = { summary: result.summary, settings: s, at: Date.now(), analysed: result.analysed, seen };
    await store.saveRun(result.decisions, fresh, run);
    // The repository-context index of what was accepted, stored beside it (completions use it).
    onProgress({ phase: 'indexing', done: 0, total: result.summary.accepted });
    const accepted = new Set(result.decisions.filter((d) => d.accepted).map((d) => `${d.source}\0${d.path}`));
    const chunks = files
      .filter((f) => accepted.has(`${f.source}\0${f.path}`))
      .flatMap((f) => chunkFile(names.get(f.source) ?? f.source, f.path, decodeText(f.bytes)));
    await store.saveRepoIndex({ at: run.at, chunks });
    announceRepoIndex();
    return { ...run, total: files.length };
  }

  async lastRun(): Promise<FilterRun | null> {
    return (await this.store()).lastRun();
  }

  async decisions(): Promise<FileDecision[]> {
    return (await this.store()).decisions();
  }

  /** The first 64 KiB of a file as text (a notebook as the script training reads), for the preview. */
  async preview(source: string, path: string): Promise<{ text: string; truncated: boolean } | null> {
    const f = await (await this.store()).file(source, path);
    if (!f) return null;
    if (f.kind === 'commit') {
      const text = commitText(readCommitEntry(f.bytes));
      return { text: text.slice(0, 65536), truncated: text.length > 65536 };
    }
    if (isNotebook(path)) {
      const text = fileText(path, f.bytes);
      return { text: text.slice(0, 65536), truncated: text.length > 65536 };
    }
    const head = f.bytes.subarray(0, 65536);
    return { text: new TextDecoder().decode(head), truncated: f.bytes.length > head.length };
  }
}

/** Tells the engine worker (another worker of this tab) that the index changed. */
function announceRepoIndex(): void {
  if (typeof BroadcastChannel === 'undefined') return;
  const ch = new BroadcastChannel(REPO_INDEX_CHANNEL);
  ch.postMessage('rebuilt');
  ch.close();
}
