// Repository-level sequences (as Qwen2.5-Coder and StarCoder2 were pretrained): several files
// of one repository in one sequence, in path order with each file's local imports just before
// it, in the family's repository layout (src/model/repo-format.ts). FIM is applied per file as
// for single files. Which runs of files become one sequence is seeded, so a dataset stays a
// function of its files and seed.
import type { Rng } from '../../random.ts';
import { repoFormatOf, pathComment, repoLabel, withFinalNewline } from '../../model/repo-format.ts';
import type { TrainingFile } from '../types.ts';
import { bosSegments, encodeBody, eosSegments, type DocTokenizer, type EncodedDocument, type FimSettings, type Segment } from './fim.ts';

/** Characters per token assumed when filling a sequence (code runs ≈3–4 with BPE tokenizers). */
export const CHARS_PER_TOKEN = 3;

const stem = (p: string) => p.replace(/\.[^./]+$/, '');
const dirOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');

/** `a/./b/../c` → `a/c`; undefined when it climbs out of the repository. */
function normalise(path: string): string | undefined {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (!out.length) return undefined;
      out.pop();
    } else out.push(part);
  }
  return out.join('/');
}

/** What an import line names: quoted specifiers (JS, C, Go, Rust mod paths) and dotted modules (Python, Java). */
function importSpecs(text: string): string[] {
  const specs: string[] = [];
  for (const line of text.split('\n')) {
    if (!/\b(import|from|require|include|use|mod)\b/.test(line) || line.length > 300) continue;
    for (const m of line.matchAll(/["'<]([^"'<>\s]+)["'>]/g)) specs.push(m[1]);
    const py = /^\s*(?:from\s+(\.*[\w.]*)\s+import|import\s+([\w.]+))/.exec(line);
    const dotted = py?.[1] ?? py?.[2];
    if (dotted) {
      const lead = /^\.*/.exec(dotted)![0].length;
      const rest = dotted.slice(lead).replaceAll('.', '/');
      specs.push(lead ? `${'../'.repeat(lead - 1) || './'}${rest}` : rest);
    }
  }
  return specs;
}

/** The paths (among `byStem`) that a file imports. */
function localImports(path: string, text: string, byStem: Map<string, string[]>): string[] {
  const found = new Set<string>();
  for (const spec of importSpecs(text)) {
    const relative = spec.startsWith('./') || spec.startsWith('../');
    const target = relative ? normalise(`${dirOf(path)}/${spec}`) : spec.replace(/^\/+/, '');
    if (!target) continue;
    for (const key of [stem(target), target, `${stem(target)}/index`, `${target}/__init__`, `${target}/mod`]) {
      for (const p of byStem.get(key) ?? []) if (p !== path) found.add(p);
    }
    if (!relative && !found.size)
      // `from pkg.mod import x` or `#include "mod.h"` from another folder: match by path ending.
      for (const [k, ps] of byStem) if (k.endsWith(`/${stem(target)}`)) for (const p of ps) if (p !== path) found.add(p);
  }
  return [...found].sort();
}

/**
 * The files of one repository in repository order: path order, each file's local imports
 * (recursively) placed before it, so related files sit next to each other.
 */
export function repoOrder<F extends { path: string; text: string }>(files: F[]): F[] {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const byPath = new Map(sorted.map((f) => [f.path, f]));
  const byStem = new Map<string, string[]>();
  for (const f of sorted) {
    for (const key of [stem(f.path), f.path]) byStem.set(key, [...(byStem.get(key) ?? []), f.path]);
  }
  const out: F[] = [];
  const seen = new Set<string>();
  const visit = (f: F) => {
    if (seen.has(f.path)) return;
    seen.add(f.path); // before its imports: an import cycle ends here
    for (const p of localImports(f.path, f.text, byStem)) visit(byPath.get(p)!);
    out.push(f);
  };
  for (const f of sorted) visit(f);
  return out;
}

/**
 * Runs of at least two consecutive files of one source (in repository order) whose text fits
 * about `charBudget` characters: the candidates for repository sequences.
 */
export function repoRuns(files: TrainingFile[], charBudget: number): TrainingFile[][] {
  const bySource = new Map<string, TrainingFile[]>();
  for (const f of files) bySource.set(f.source, [...(bySource.get(f.source) ?? []), f]);
  const runs: TrainingFile[][] = [];
  for (const source of [...bySource.keys()].sort()) {
    let run: TrainingFile[] = [];
    let chars = 0;
    const close = () => {
      if (run.length >= 2) runs.push(run);
      run = [];
      chars = 0;
    };
    for (const f of repoOrder(bySource.get(source)!)) {
      if (run.length && chars + f.text.length > charBudget) close();
      if (f.text.length > charBudget) continue; // a file that fills a sequence alone stays a single file
      run.push(f);
      chars += f.text.length;
    }
    close();
  }
  return runs;
}

export interface RepoChoice {
  /** Runs that become repository sequences. */
  sequences: TrainingFile[][];
  /** Files that stay single documents, in the order they came. */
  singles: TrainingFile[];
}

/** Chooses with probability `share` each run that becomes one repository sequence. */
export function chooseRepoSequences(files: TrainingFile[], share: number, charBudget: number, rng: Rng): RepoChoice {
  if (share <= 0) return { sequences: [], singles: files };
  const sequences = repoRuns(files, charBudget).filter(() => rng.next() < share);
  const packed = new Set(sequences.flat());
  return { sequences, singles: files.filter((f) => !packed.has(f)) };
}

export interface EncodedRepoSequence {
  segments: Segment[];
  /** Each file's layout, in order. */
  kinds: Array<EncodedDocument['kind']>;
}

/**
 * One repository sequence: BOS, the repository header (not trained on), then per file its
 * separator and path and its content (plain or FIM, drawn per file), then EOS. A separator after
 * the first file is trained on: it marks where the previous file ends, as EOS does for one file.
 */
export function encodeRepoSequence(
  tok: DocTokenizer,
  source: string,
  files: TrainingFile[],
  rng: Rng,
  s: FimSettings,
): EncodedRepoSequence {
  const format = repoFormatOf(tok.fim);
  const enc = (text: string, train: boolean): Segment => ({ ids: tok.encode(text, { bos: false }), train });
  const segments: Segment[] = [...bosSegments(tok)];
  const kinds: EncodedRepoSequence['kinds'] = [];
  if (format.kind === 'tokens')
    segments.push({ ids: [format.repoName], train: false }, enc(`${repoLabel(source)}${format.nameEnd}`, false));
  files.forEach((f, i) => {
    if (format.kind === 'tokens') segments.push({ ids: [format.fileSep], train: i > 0 }, enc(`${f.path}\n`, true));
    else segments.push(enc(pathComment(f.path), i > 0));
    const body = encodeBody(tok, withFinalNewline(f.text), rng, s);
    segments.push(...body.segments);
    kinds.push(body.kind);
  });
  segments.push(...eosSegments(tok));
  return { segments: segments.filter((g) => g.ids.length), kinds };
}
