// Sources, their files, content facts and filter decisions in IndexedDB (idb), so a reload
// keeps everything and a re-run after `git pull` analyses only changed files.
import type { StoredRepoIndex } from '../repo-index.ts';
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { contentHash, type ContentFacts } from '../filter/content.ts';
import type { FilterSettings } from '../filter/settings.ts';
import type { FilterSummary } from '../filter/summary.ts';
import type { EntryKind, FileDecision, SourceFile, SourceRecord } from '../types.ts';

export interface StoredFile {
  source: string;
  path: string;
  bytes: Uint8Array;
  size: number;
  sha: string;
  test: boolean;
  /** 'commit': a commit of the history (see SourceFile.kind); absent for files. */
  kind?: EntryKind;
}

export interface FilterRun {
  summary: FilterSummary;
  settings: FilterSettings;
  at: number;
  analysed: number;
  /** Sources' updatedAt stamps the run saw: a newer one means the decisions are stale. */
  seen: Record<string, number>;
}

interface Schema extends DBSchema {
  sources: { key: string; value: SourceRecord };
  files: { key: [string, string]; value: StoredFile; indexes: { 'by-source': string } };
  facts: { key: string; value: ContentFacts };
  decisions: { key: [string, string]; value: FileDecision; indexes: { 'by-source': string } };
  meta: { key: string; value: unknown };
}

export const SOURCE_DB = 'homecoder-sources';

export interface FileChanges {
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
}

export class SourceStore {
  private constructor(private db: IDBPDatabase<Schema>) {}

  static async open(name = SOURCE_DB): Promise<SourceStore> {
    const db = await openDB<Schema>(name, 1, {
      upgrade(db) {
        db.createObjectStore('sources', { keyPath: 'id' });
        db.createObjectStore('files', { keyPath: ['source', 'path'] }).createIndex('by-source', 'source');
        db.createObjectStore('facts', { keyPath: 'sha' });
        db.createObjectStore('decisions', { keyPath: ['source', 'path'] }).createIndex('by-source', 'source');
        db.createObjectStore('meta');
      },
    });
    return new SourceStore(db);
  }

  close(): void {
    this.db.close();
  }

  async sources(): Promise<SourceRecord[]> {
    return (await this.db.getAll('sources')).sort((a, b) => a.addedAt - b.addedAt || (a.id < b.id ? -1 : 1));
  }

  source(id: string): Promise<SourceRecord | undefined> {
    return this.db.get('sources', id);
  }

  /**
   * Stores a source with exactly these files (new ones added, changed ones replaced, missing
   * ones removed) in one transaction: a failure leaves the store as it was.
   */
  async putSource(
    rec: Omit<SourceRecord, 'fileCount' | 'bytes'>,
    files: SourceFile[],
    opts: { merge?: boolean } = {},
  ): Promise<{ record: SourceRecord; changes: FileChanges }> {
    const hashed = files.map((f) => ({ ...f, sha: contentHash(f.bytes) }));
    const tx = this.db.transaction(['sources', 'files'], 'readwrite');
    const fstore = tx.objectStore('files');
    const existing = new Map((await fstore.index('by-source').getAll(rec.id)).map((f) => [f.path, f]));
    const changes: FileChanges = { added: 0, changed: 0, removed: 0, unchanged: 0 };
    const seen = new Set<string>();
    // Changes count files; the commits of the history are stored alongside, uncounted.
    const count = (kind: EntryKind | undefined, what: keyof FileChanges) => {
      if (kind !== 'commit') changes[what]++;
    };
    for (const f of hashed) {
      seen.add(f.path);
      const old = existing.get(f.path);
      if (old && old.sha === f.sha) {
        count(f.kind, 'unchanged');
        if (f.test !== undefined && f.test !== old.test) await fstore.put({ ...old, test: f.test });
        continue;
      }
      count(f.kind, old ? 'changed' : 'added');
      await fstore.put({
        source: rec.id,
        path: f.path,
        bytes: f.bytes,
        size: f.bytes.length,
        sha: f.sha,
        test: f.test ?? old?.test ?? false,
        ...(f.kind === 'commit' ? { kind: f.kind } : {}),
      });
    }
    if (!opts.merge) {
      for (const path of existing.keys()) {
        if (seen.has(path)) continue;
        await fstore.delete([rec.id, path]);
        count(existing.get(path)?.kind, 'removed');
      }
    }
    const entries = await fstore.index('by-source').getAll(rec.id);
    const all = entries.filter((f) => f.kind !== 'commit');
    const commits = entries.length - all.length;
    const record: SourceRecord = {
      ...rec,
      fileCount: all.length,
      bytes: all.reduce((a, f) => a + f.size, 0),
      commits: commits || undefined,
    };
    await tx.objectStore('sources').put(record);
    await tx.done;
    return { record, changes };
  }

  async updateSource(rec: SourceRecord): Promise<void> {
    await this.db.put('sources', rec);
  }

  async removeSource(id: string): Promise<void> {
    const tx = this.db.transaction(['sources', 'files', 'decisions'], 'readwrite');
    await tx.objectStore('sources').delete(id);
    for (const store of ['files', 'decisions'] as const) {
      const keys = await tx.objectStore(store).index('by-source').getAllKeys(id);
      for (const k of keys) await tx.objectStore(store).delete(k);
    }
    await tx.done;
  }

  /** Files of a source without their bytes (for listing; the commits of its history are not files). */
  async fileList(source: string): Promise<Array<Omit<StoredFile, 'bytes'>>> {
    const out: Array<Omit<StoredFile, 'bytes'>> = [];
    let cursor = await this.db.transaction('files').store.index('by-source').openCursor(source);
    while (cursor) {
      const { bytes: _bytes, ...meta } = cursor.value;
      if (meta.kind !== 'commit') out.push(meta);
      cursor = await cursor.continue();
    }
    return out;
  }

  async setTest(source: string, paths: string[] | 'all', test: boolean): Promise<number> {
    const tx = this.db.transaction(['files', 'sources'], 'readwrite');
    const store = tx.objectStore('files');
    const list =
      paths === 'all'
        ? (await store.index('by-source').getAll(source)).filter((f) => f.kind !== 'commit')
        : await Promise.all(paths.map((p) => store.get([source, p])));
    let n = 0;
    for (const f of list) {
      if (!f || f.test === test) continue;
      await store.put({ ...f, test });
      n++;
    }
    const rec = await tx.objectStore('sources').get(source);
    if (rec && n) await tx.objectStore('sources').put({ ...rec, updatedAt: Date.now() });
    await tx.done;
    return n;
  }

  /** Every file of every source, sources in the order they were added. */
  async allFiles(): Promise<StoredFile[]> {
    const order = new Map((await this.sources()).map((s, i) => [s.id, i]));
    const files = await this.db.getAll('files');
    return files
      .filter((f) => order.has(f.source))
      .sort((a, b) => order.get(a.source)! - order.get(b.source)! || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  file(source: string, path: string): Promise<StoredFile | undefined> {
    return this.db.get('files', [source, path]);
  }

  async facts(shas: Iterable<string>): Promise<Map<string, ContentFacts>> {
    const tx = this.db.transaction('facts');
    const out = new Map<string, ContentFacts>();
    await Promise.all(
      [...new Set(shas)].map(async (sha) => {
        const f = await tx.store.get(sha);
        if (f) out.set(sha, f);
      }),
    );
    await tx.done;
    return out;
  }

  async saveRun(decisions: FileDecision[], newFacts: ContentFacts[], run: FilterRun): Promise<void> {
    const tx = this.db.transaction(['decisions', 'facts', 'meta'], 'readwrite');
    await tx.objectStore('decisions').clear();
    for (const d of decisions) void tx.objectStore('decisions').put(d);
    for (const f of newFacts) void tx.objectStore('facts').put(f);
    void tx.objectStore('meta').put(run, 'run');
    await tx.done;
  }

  decisions(): Promise<FileDecision[]> {
    return this.db.getAll('decisions');
  }

  /** The repository-context index of the last filter run's accepted files. */
  async saveRepoIndex(index: StoredRepoIndex): Promise<void> {
    await this.db.put('meta', index, 'repoIndex');
  }

  async repoIndex(): Promise<StoredRepoIndex | null> {
    return ((await this.db.get('meta', 'repoIndex')) as StoredRepoIndex | undefined) ?? null;
  }

  /** Whether completions get repository context (the Use page's setting; off until turned on). */
  async repoContextOn(): Promise<boolean> {
    return (await this.db.get('meta', 'repoContextOn')) === true;
  }

  async setRepoContextOn(on: boolean): Promise<void> {
    await this.db.put('meta', on, 'repoContextOn');
  }

  async lastRun(): Promise<FilterRun | null> {
    return ((await this.db.get('meta', 'run')) as FilterRun | undefined) ?? null;
  }

  async settings(): Promise<Partial<FilterSettings>> {
    return ((await this.db.get('meta', 'settings')) as Partial<FilterSettings> | undefined) ?? {};
  }

  async saveSettings(s: FilterSettings): Promise<void> {
    await this.db.put('meta', s, 'settings');
  }
}
