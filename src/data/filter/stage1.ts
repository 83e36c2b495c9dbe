// Stage 1 of the filter: deterministic rules over file contents, one decision per file.
// Pure TypeScript over bytes: the browser worker (files from IndexedDB) and the Node CLI
// (files from disk, archives, clones) run exactly this.
import picomatch from 'picomatch';
import { abortError, type ProgressListener } from '../../progress.ts';
import type { DecisionReason, EntryKind, FileDecision, RejectReason } from '../types.ts';
import { readCommitEntry } from '../sources/history.ts';
import { commitDiffText, commitText, commitTitle, commitVerdict, leftOutNote } from './commits.ts';
import { findSecret } from './secrets.ts';
import { analyseContent, contentHash, decodeText, type ContentFacts } from './content.ts';
import { detectLanguage, languageByName, languageEnabled, type Language } from './languages.ts';
import { LshIndex } from './minhash.ts';
import { isNotebook, NotebookFormatError, notebookToScript } from './notebook.ts';
import { RepoRules } from './repo-rules.ts';
import { BINARY_EXTENSIONS, GENERATED_FILENAMES, GENERATED_SUFFIXES, VENDORED_DIRS, VENDORED_FILE } from './rules.ts';
import { withDefaults, type FilterSettings } from './settings.ts';
import { summarise, type FilterSummary } from './summary.ts';

export interface FilterInput {
  source: string;
  path: string;
  bytes: Uint8Array;
  test?: boolean;
  /** Its content hash when already known (skips hashing). */
  sha?: string;
  /** 'commit': a commit of the history (bytes: its CommitExample as JSON). */
  kind?: EntryKind;
}

/** Content facts by content hash: reused across runs so only changed files are analysed. */
export type FactsCache = Map<string, ContentFacts>;

export interface FilterOptions {
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  cache?: FactsCache;
  /** A source's readable name for reasons (the page's sources have internal ids); the id itself by default. */
  sourceName?: (source: string) => string;
}

export interface FilterResult {
  decisions: FileDecision[];
  summary: FilterSummary;
  /** How many files had their content analysed in this run (the rest came from the cache). */
  analysed: number;
}

const KIB = 1024;
const kib = (n: number) => `${(n / KIB).toFixed(n < 10 * KIB ? 1 : 0)} KiB`;

/** Gives the event loop a turn (progress messages out, cancel messages in) about every 30 ms. */
function makeYielder(signal?: AbortSignal) {
  let last = performance.now();
  return async (force = false) => {
    if (signal?.aborted) throw abortError(signal.reason);
    if (!force && performance.now() - last < 30) return;
    await new Promise<void>((r) => setTimeout(r, 0));
    last = performance.now();
    if (signal?.aborted) throw abortError(signal.reason);
  };
}

function globMatcher(globs: string[]): (path: string) => string | null {
  const ms = globs.filter(Boolean).map((g) => ({ g, m: picomatch(g, { dot: true, basename: !g.includes('/') }) }));
  return (path) => ms.find((x) => x.m(path))?.g ?? null;
}

interface Verdict {
  reason: RejectReason;
  detail: string;
}

function pathVerdict(path: string, rules: RepoRules, s: FilterSettings, excluded: (p: string) => string | null): Verdict | null {
  const glob = excluded(path);
  if (glob) return { reason: 'excluded_by_mask', detail: `matches your exclude glob "${glob}"` };
  if (s.useGitignore) {
    const rule = rules.ignoredBy(path);
    if (rule) return { reason: 'ignored', detail: `ignored by ${rule}` };
  }
  const vendoredAttr = rules.attribute(path, 'linguist-vendored');
  if (vendoredAttr?.value) return { reason: 'vendored', detail: `marked by ${vendoredAttr.origin}` };
  if (vendoredAttr?.value !== false) {
    const dir = path
      .split('/')
      .slice(0, -1)
      .find((seg) => VENDORED_DIRS.has(seg));
    if (dir) return { reason: 'vendored', detail: `inside a "${dir}/" folder` };
    if (VENDORED_FILE.test(path)) return { reason: 'vendored', detail: 'a well-known vendored file' };
  }
  return null;
}

function contentVerdict(
  path: string,
  size: number,
  f: ContentFacts,
  lang: Language | null,
  rules: RepoRules,
  s: FilterSettings,
): Verdict | null {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  const ext = dot > 0 ? base.slice(dot).toLowerCase() : '';
  if (size > s.maxBytes) return { reason: 'too_large', detail: `${kib(size)} > ${kib(s.maxBytes)}` };
  if (BINARY_EXTENSIONS.has(ext)) return { reason: 'not_text', detail: `"${ext}" files are binary` };
  if (f.binary) return { reason: 'not_text', detail: f.binary };
  const binAttr = rules.attribute(path, 'binary');
  if (binAttr?.value) return { reason: 'not_text', detail: `marked by ${binAttr.origin}` };
  if (f.secret) return { reason: 'secrets', detail: `holds ${f.secret}; remove it (and revoke it) to train on this file` };
  const genAttr = rules.attribute(path, 'linguist-generated');
  if (genAttr?.value) return { reason: 'generated', detail: `marked by ${genAttr.origin}` };
  if (genAttr?.value !== false) {
    if (GENERATED_FILENAMES.has(base)) return { reason: 'generated', detail: 'a lock file' };
    const suffix = GENERATED_SUFFIXES.find(([sfx]) => base.endsWith(sfx));
    if (suffix) return { reason: 'generated', detail: `"*${suffix[0]}": made by ${suffix[1]}` };
    if (f.generatedHead) return { reason: 'generated', detail: `its head says "${f.generatedHead}"` };
    if (f.maxLine > s.minifiedLine)
      return { reason: 'generated', detail: `minified: a line of ${f.maxLine} characters > ${s.minifiedLine}` };
    if (f.avgLine > s.minifiedAverage)
      return { reason: 'generated', detail: `minified: average line length ${f.avgLine.toFixed(0)} > ${s.minifiedAverage}` };
    const diffAttr = rules.attribute(path, 'diff');
    if (diffAttr && !diffAttr.value) return { reason: 'generated', detail: `git does not diff it (${diffAttr.origin})` };
  }
  if (!lang) return { reason: 'not_code', detail: `no language for "${base}" (by extension, file name or #! line)` };
  if (!languageEnabled(lang, s.languages)) return { reason: 'type_off', detail: `${lang.name} is switched off` };
  if (f.digitsRatio > s.maxDigitsRatio)
    return {
      reason: 'lots_of_digits',
      detail: `digits are ${f.digitsRatio.toFixed(2)} of non-whitespace characters > ${s.maxDigitsRatio}`,
    };
  return null;
}

/** Each source's .gitignore/.gitattributes rules, read from its own files. */
function rulesBySource(files: FilterInput[]): Map<string, RepoRules> {
  const bySource = new Map<string, FilterInput[]>();
  for (const f of files) {
    const list = bySource.get(f.source);
    if (list) list.push(f);
    else bySource.set(f.source, [f]);
  }
  const rules = new Map<string, RepoRules>();
  for (const [source, list] of bySource)
    rules.set(source, new RepoRules(list.map((f) => ({ path: f.path, text: () => decodeText(f.bytes) }))));
  return rules;
}

interface Judge {
  s: FilterSettings;
  excluded: (path: string) => string | null;
  included: (path: string) => string | null;
  cache: FactsCache;
}

const te = new TextEncoder();
/** Switching notebooks off still works: the language switch of the notebook format itself. */
const NOTEBOOK_LANGUAGE = languageByName('Jupyter Notebook')!;

/**
 * One commit's decision: bot authors, changes to nothing but lock/generated/vendored/binary
 * files, huge diffs and secrets are rejected. Its facts are those of its diff text, so
 * duplicates are commits with the same changes whatever their messages say.
 */
function decideCommit(f: FilterInput, j: Judge): { decision: FileDecision; facts: ContentFacts | null; analysed: boolean } {
  const decision: FileDecision = {
    path: f.path,
    source: f.source,
    accepted: false,
    reason: 'linguist_error',
    detail: '',
    language: null,
    bytes: f.bytes.length,
    lines: 0,
    test: false,
    kind: 'commit',
  };
  let facts: ContentFacts | null = null;
  let verdict: Verdict | null = null;
  try {
    const c = readCommitEntry(f.bytes);
    const text = commitText(c);
    decision.title = commitTitle(c);
    decision.time = c.time;
    decision.bytes = te.encode(text).length;
    decision.lines = text.split('\n').length - 1;
    const glob = j.excluded(f.path);
    verdict = glob ? { reason: 'excluded_by_mask', detail: `matches your exclude glob "${glob}"` } : commitVerdict(c);
    if (!verdict && decision.bytes > j.s.maxCommitBytes)
      verdict = { reason: 'too_large', detail: `its message and diffs are ${kib(decision.bytes)} > ${kib(j.s.maxCommitBytes)}` };
    if (!verdict) {
      const diff = te.encode(commitDiffText(c));
      facts = analyseContent(diff);
      const secret = facts.secret ?? findSecret(c.message);
      if (secret) verdict = { reason: 'secrets', detail: `holds ${secret}; such commits are never trained on` };
    }
    if (!verdict) decision.detail = leftOutNote(c);
  } catch (err) {
    verdict = { reason: 'linguist_error', detail: `not a readable commit: ${err instanceof Error ? err.message : String(err)}` };
  }
  decision.reason = verdict?.reason ?? 'accepted';
  decision.accepted = !verdict;
  if (verdict) decision.detail = verdict.detail;
  return { decision, facts, analysed: true };
}

/** One file's decision by path and content (duplicates come later), with its content facts. */
function decideFile(f: FilterInput, repo: RepoRules, j: Judge): { decision: FileDecision; facts: ContentFacts | null; analysed: boolean } {
  const { s } = j;
  const force = j.included(f.path);
  let verdict: Verdict | null = null;
  let lang: Language | null = null;
  let lines = 0;
  let facts: ContentFacts | null = null;
  let analysed = false;
  let size = f.bytes.length;
  let notebookNote = '';
  try {
    verdict = pathVerdict(f.path, repo, s, j.excluded);
    // Path verdicts need no content: skip the analysis unless a force-include needs it.
    if (!verdict || force) {
      // A notebook is judged (and trained on) as the script of its cells, in its kernel's language.
      const nb = isNotebook(f.path) ? notebookToScript(f.bytes) : null;
      const bytes = nb ? new TextEncoder().encode(nb.text) : f.bytes;
      const sha = nb ? contentHash(bytes) : (f.sha ?? contentHash(f.bytes));
      let cf = j.cache.get(sha);
      // Facts cached before the secrets check have no `secret` field: analyse those again.
      if (!cf || cf.secret === undefined) {
        cf = analyseContent(bytes, sha);
        j.cache.set(sha, cf);
        analysed = true;
      }
      facts = cf;
      lines = cf.lines;
      size = bytes.length;
      lang = cf.binary ? null : nb ? nb.language : detectLanguage(f.path, cf.interpreter);
      if (nb && !languageEnabled(NOTEBOOK_LANGUAGE, s.languages))
        verdict ??= { reason: 'type_off', detail: `${NOTEBOOK_LANGUAGE.name} is switched off` };
      if (nb && !nb.language)
        verdict ??= { reason: 'not_code', detail: `the notebook's kernel language "${nb.kernel}" is not one Homecoder knows` };
      verdict ??= contentVerdict(f.path, bytes.length, cf, lang, repo, s);
      if (nb) notebookNote = `notebook: ${nb.code} code and ${nb.markdown} markdown cells as ${lang?.name ?? nb.kernel}, outputs dropped`;
      if (force && cf.binary) verdict = { reason: 'not_text', detail: `${cf.binary} (force-include does not apply to binary files)` };
      else if (force && cf.secret && verdict?.reason !== 'secrets')
        verdict = { reason: 'secrets', detail: `holds ${cf.secret} (force-include does not apply to secrets)` };
    }
  } catch (err) {
    const what = err instanceof NotebookFormatError ? 'not a readable notebook' : 'could not analyse';
    verdict = { reason: 'linguist_error', detail: `${what}: ${err instanceof Error ? err.message : String(err)}` };
  }
  let reason: DecisionReason = verdict?.reason ?? 'accepted';
  let detail = verdict?.detail ?? '';
  if (force && verdict && verdict.reason !== 'not_text' && verdict.reason !== 'secrets' && verdict.reason !== 'linguist_error') {
    reason = 'accepted';
    detail = `force-included by "${force}" (would be ${verdict.reason.replace(/_/g, ' ')}: ${verdict.detail})`;
  } else if (force && !verdict) detail = `force-included by "${force}"`;
  if (notebookNote && reason === 'accepted') detail = detail ? `${detail}; ${notebookNote}` : notebookNote;
  const decision: FileDecision = {
    path: f.path,
    source: f.source,
    accepted: reason === 'accepted',
    reason,
    detail,
    language: lang?.name ?? null,
    bytes: size,
    lines,
    test: !!f.test,
  };
  return { decision, facts, analysed };
}

/**
 * Rejects duplicates among the entries of one kind (files, or commits) still accepted: test
 * files first, then in the given order; commits newest first.
 */
async function markDuplicates(
  kind: EntryKind,
  decisions: FileDecision[],
  facts: Array<ContentFacts | null>,
  s: FilterSettings,
  onProgress: FilterOptions['onProgress'],
  tick: () => Promise<void>,
  sourceName: (source: string) => string,
): Promise<void> {
  const order = decisions.map((_, i) => i).filter((i) => decisions[i].accepted && (decisions[i].kind ?? 'file') === kind);
  // Commits newest first whatever order they are stored in: the older copy of a change is the duplicate.
  if (kind === 'commit') order.sort((a, b) => (decisions[b].time ?? 0) - (decisions[a].time ?? 0) || a - b);
  else order.sort((a, b) => Number(decisions[b].test) - Number(decisions[a].test) || a - b);
  const exact = new Map<string, number>();
  const near = new LshIndex<number>();
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    const d = decisions[i];
    const cf = facts[i]!;
    const forced = d.detail.startsWith('force-included');
    const same = exact.get(cf.sha);
    let dupOf: { index: number; similarity: number } | null = same !== undefined ? { index: same, similarity: 1 } : null;
    if (!dupOf && cf.minhash && s.nearDuplicate < 1) {
      const n = near.nearest(cf.minhash, s.nearDuplicate);
      if (n) dupOf = { index: n.value, similarity: n.similarity };
    }
    if (dupOf && !forced) {
      const o = decisions[dupOf.index];
      d.accepted = false;
      d.reason = 'duplicate';
      d.duplicateOf = { source: o.source, path: o.path, similarity: dupOf.similarity };
      const where = o.source !== d.source ? ` in ${sourceName(o.source)}` : '';
      d.detail =
        dupOf.similarity === 1 && same !== undefined
          ? `same ${kind === 'commit' ? 'changes' : 'content'} as ${o.path}${where}`
          : `near-duplicate of ${o.path}${where}: ` + `estimated Jaccard ${dupOf.similarity.toFixed(2)} ≥ ${s.nearDuplicate}`;
      continue;
    }
    if (same === undefined) exact.set(cf.sha, i);
    if (cf.minhash) near.add(cf.minhash, i);
    if ((k & 255) === 0) {
      onProgress?.({ phase: 'deduplicating', done: k, total: order.length });
      await tick();
    }
  }
  onProgress?.({ phase: 'deduplicating', done: order.length, total: order.length });
}

/**
 * Decides, for every file, whether stage 1 keeps it and why not. Deterministic: the same
 * files and settings give the same decisions. Duplicates: test files are seen first (a test
 * file wins over a train file), then sources and paths in the given order.
 */
export async function filterFiles(
  files: FilterInput[],
  settings: Partial<FilterSettings> = {},
  opts: FilterOptions = {},
): Promise<FilterResult> {
  const s = withDefaults(settings);
  const { signal, onProgress } = opts;
  const tick = makeYielder(signal);
  signal?.throwIfAborted();
  const rules = rulesBySource(files);
  const judge: Judge = { s, excluded: globMatcher(s.exclude), included: globMatcher(s.include), cache: opts.cache ?? new Map() };

  const decisions: FileDecision[] = new Array(files.length);
  const facts: Array<ContentFacts | null> = new Array(files.length).fill(null);
  let analysed = 0;
  const total = files.length;
  for (let i = 0; i < files.length; i++) {
    const f = files[i];
    const one = f.kind === 'commit' ? decideCommit(f, judge) : decideFile(f, rules.get(f.source)!, judge);
    decisions[i] = one.decision;
    facts[i] = one.facts;
    if (one.analysed) analysed++;
    if ((i & 63) === 0) {
      onProgress?.({ phase: 'analysing', done: i, total, detail: f.path });
      await tick();
    }
  }
  onProgress?.({ phase: 'analysing', done: total, total });
  for (const kind of ['file', 'commit'] as const)
    await markDuplicates(kind, decisions, facts, s, onProgress, tick, opts.sourceName ?? ((id) => id));
  return { decisions, summary: summarise(decisions, s), analysed };
}
