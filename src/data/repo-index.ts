// A small search index over the user's sources for repository context in completions: files
// cut into chunks at top-level lines, each chunk's identifiers and the names it defines, and
// BM25 over identifiers with a boost for the chunk that defines a name. Built when sources are
// filtered (stored as chunks beside the filtered files) or from a folder (`serve
// --context-source`); searched by src/serve/repo-context.ts through its `search`.

/** One piece of a file as stored: the postings are rebuilt from the text when loaded. */
export interface RepoChunk {
  source: string;
  path: string;
  /** First line of the chunk in its file (1-based). */
  line: number;
  text: string;
}

/** The index as stored beside the filtered files (IndexedDB `meta`), from the filter run at `at`. */
export interface StoredRepoIndex {
  at: number;
  chunks: RepoChunk[];
}

/** Told on this channel when the sources' index was rebuilt (the engine worker reloads it). */
export const REPO_INDEX_CHANNEL = 'homecoder-repo-index';

export interface RepoHit extends RepoChunk {
  score: number;
}

/** Lines a chunk grows to before it is cut at the next top-level line, and at most. */
const MIN_LINES = 8;
const MAX_LINES = 30;
/** Files larger than this are not indexed (minified or generated; the filter rejects most). */
const MAX_FILE_CHARS = 200_000;
const K1 = 1.2;
const B = 0.75;
/** A chunk that defines a query's name scores as if it held that name this many times more. */
const DEFINES_BOOST = 3;
/** And for a name given a weight (the one at the cursor): this many times its idf more. */
const DEFINES_WEIGHTED = 4;

const KEYWORDS = new Set(
  (
    'if else for while do return function const let var class def import from export default new this self true false null ' +
    'undefined none and or not in is of as async await try catch finally throw raise with yield pass break continue public ' +
    'private protected static void int string number boolean float double char long short unsigned struct enum interface ' +
    'type extends implements package fn pub mut impl use mod match where elif lambda global nonlocal switch case typeof instanceof'
  ).split(' '),
);

/** The identifiers of a text (2+ characters, no keywords), lowercased. */
export function identifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/[A-Za-z_$][\w$]*/g)) {
    const w = m[0].toLowerCase();
    if (w.length >= 2 && !KEYWORDS.has(w)) out.push(w);
  }
  return out;
}

const DEFINITION =
  /\b(?:def|class|function\*?|const|let|var|interface|type|enum|struct|trait|fn|func|module|record|object)\s+([A-Za-z_$][\w$]*)|^\s*(?:export\s+)?(?:public\s+|private\s+|static\s+|async\s+)*([A-Za-z_$][\w$]*)\s*(?:=\s*(?:\(|function|async)|\([^)]*\)\s*[:{])|^([A-Za-z_$][\w$]*)\s*(?::[^=\n]+)?=(?!=)/gm;

/** The names a text defines (functions, classes, types, top-level assignments), lowercased. */
export function definedNames(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(DEFINITION)) {
    const name = (m[1] ?? m[2] ?? m[3])?.toLowerCase();
    if (name && !KEYWORDS.has(name)) out.add(name);
  }
  return [...out];
}

/** Cuts a file into chunks: at a top-level line once a chunk has MIN_LINES, always at MAX_LINES. */
export function chunkFile(source: string, path: string, text: string): RepoChunk[] {
  if (text.length > MAX_FILE_CHARS) return [];
  const lines = text.split('\n');
  const out: RepoChunk[] = [];
  let start = 0;
  const flush = (end: number) => {
    const body = lines.slice(start, end).join('\n');
    if (body.trim()) out.push({ source, path, line: start + 1, text: body });
    start = end;
  };
  for (let i = 1; i < lines.length; i++) {
    const len = i - start;
    const topLevel = /^[^\s})\]]/.test(lines[i]);
    if ((len >= MIN_LINES && topLevel) || len >= MAX_LINES) flush(i);
  }
  flush(lines.length);
  return out;
}

interface Posting {
  chunk: number;
  tf: number;
}

/** BM25 over the chunks' identifiers; `search` is what src/serve/repo-context.ts calls. */
export class RepoIndex {
  private postings = new Map<string, Posting[]>();
  private defines = new Map<string, Set<number>>();
  private lengths: number[] = [];
  private avgLength = 1;

  constructor(readonly chunks: RepoChunk[]) {
    chunks.forEach((c, i) => {
      const counts = new Map<string, number>();
      const ids = identifiers(c.text);
      for (const w of ids) counts.set(w, (counts.get(w) ?? 0) + 1);
      for (const [w, tf] of counts) {
        let list = this.postings.get(w);
        if (!list) this.postings.set(w, (list = []));
        list.push({ chunk: i, tf });
      }
      for (const name of definedNames(c.text)) {
        let set = this.defines.get(name);
        if (!set) this.defines.set(name, (set = new Set()));
        set.add(i);
      }
      this.lengths.push(ids.length);
    });
    this.avgLength = Math.max(1, this.lengths.reduce((a, b) => a + b, 0) / Math.max(1, chunks.length));
  }

  static fromFiles(files: Iterable<{ source: string; path: string; text: string }>): RepoIndex {
    const chunks: RepoChunk[] = [];
    for (const f of files) chunks.push(...chunkFile(f.source, f.path, f.text));
    return new RepoIndex(chunks);
  }

  /** Files indexed. */
  get files(): number {
    return new Set(this.chunks.map((c) => `${c.source}\0${c.path}`)).size;
  }

  /**
   * The chunks that best match `query` (text near the cursor), best first; `weights` raise some
   * identifiers (the one at the cursor). Chunks of `exclude` (the file being edited) are skipped.
   */
  search(query: string, limit: number, opts: { exclude?: string; weights?: Record<string, number>; paths?: string[] } = {}): RepoHit[] {
    const q = new Map<string, number>();
    for (const w of identifiers(query)) q.set(w, (q.get(w) ?? 0) + 1);
    for (const [w, x] of Object.entries(opts.weights ?? {})) q.set(w.toLowerCase(), (q.get(w.toLowerCase()) ?? 0) + x);
    const n = this.chunks.length;
    const scores = new Map<number, number>();
    for (const [w, qw] of q) {
      const list = this.postings.get(w);
      if (!list) continue;
      const idf = Math.log(1 + (n - list.length + 0.5) / (list.length + 0.5));
      const defs = this.defines.get(w);
      for (const { chunk, tf } of list) {
        const t = tf + (defs?.has(chunk) ? DEFINES_BOOST : 0);
        const bm = (t * (K1 + 1)) / (t + K1 * (1 - B + (B * this.lengths[chunk]) / this.avgLength));
        const named = defs?.has(chunk) && opts.weights?.[w] !== undefined ? DEFINES_WEIGHTED * idf : 0;
        scores.set(chunk, (scores.get(chunk) ?? 0) + idf * bm * Math.min(qw, 3) + named);
      }
    }
    // The file the code at the cursor imports its name from (`./repo-format.js` names
    // src/model/repo-format.ts) comes before all others, by the chunks that define a weighted
    // name there, else by its best one: the import says where the name is defined.
    const wanted = (opts.paths ?? []).map(importTarget).filter((t) => t.stem);
    if (wanted.length) {
      const top = Math.max(0, ...scores.values());
      const named = new Set(Object.keys(opts.weights ?? {}).flatMap((w) => [...(this.defines.get(w.toLowerCase()) ?? [])]));
      const inFile = [...scores].filter(([i]) => wanted.some((t) => importNames(t, this.chunks[i].path.replace(/\\/g, '/'))));
      const defining = inFile.filter(([i]) => named.has(i));
      const lifted = defining.length ? defining : inFile.sort((a, b) => b[1] - a[1]).slice(0, 1);
      for (const [i, score] of lifted) scores.set(i, score + top);
    }
    const exclude = opts.exclude ? normalisePath(opts.exclude) : undefined;
    return [...scores]
      .filter(([i]) => !exclude || !samePath(this.chunks[i].path, exclude))
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, limit)
      .map(([i, score]) => ({ ...this.chunks[i], score }));
  }
}

/**
 * What an import names: a path resolved against the importing file (`anchored`: the file's full
 * path in the editor or the index, so it must end with the indexed path), or a module name
 * (`pkg/mod`: any indexed file whose path ends with it).
 */
interface ImportTarget {
  stem: string;
  anchored: boolean;
}

function importTarget(spec: string): ImportTarget {
  const anchored = spec.startsWith('/');
  const parts: string[] = [];
  for (const part of spec.replace(/\\/g, '/').split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return { stem: parts.join('/').replace(/\.[^./]+$/, ''), anchored };
}

/** Does an import target name the indexed file `path` (with or without extension, or its index file)? */
function importNames(t: ImportTarget, path: string): boolean {
  const stem = path.replace(/\.[^./]+$/, '');
  for (const s of [stem, stem.replace(/\/(index|__init__|mod)$/, '')]) {
    if (s === t.stem || t.stem.endsWith(`/${s}`)) return true;
    if (!t.anchored && s.endsWith(`/${t.stem}`)) return true;
  }
  return false;
}

const normalisePath = (p: string) => p.replace(/\\/g, '/').replace(/^\.\//, '');

/**
 * An editor sends an absolute path (`/home/me/shop/src/a.py`), the index holds paths inside a
 * source (`src/a.py`): the same file when the absolute path ends with the indexed one.
 */
function samePath(indexed: string, editing: string): boolean {
  const absolute = /^(\/|[A-Za-z]:\/)/.test(editing);
  return editing === indexed || (absolute && editing.endsWith(`/${indexed}`));
}
