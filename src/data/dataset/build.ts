// The dataset builder: accepted files (+ supervised examples: conversations, pairs) → train/test
// token blocks with loss masks, deterministic for a seed. Runs in a worker or in Node.
// `datasetDocuments` yields each document as training sees it, in training order (the
// `homecoder dataset` command and the Train page's preview print the same documents).
import { Rng } from '../../random.ts';
import type { Progress } from '../../progress.ts';
import type { TrainingFile } from '../types.ts';
import { DatasetError } from '../errors.ts';
import { encodeDocument, DEFAULT_FIM, type DocTokenizer, type FimSettings, type Segment } from './fim.ts';
import { encodeCommit } from './commit-format.ts';
import { TokenStream, usableBlocks, type PackedTokens } from './pack.ts';
import { splitFiles, type Split } from './split.ts';
import { encodeExample, type ChatFormat } from './supervised-encode.ts';
import type { BadLine, SupervisedExample } from './supervised.ts';
import { CHARS_PER_TOKEN, chooseRepoSequences, encodeRepoSequence } from './repo.ts';

export interface DatasetSettings {
  seqLen: number;
  seed: number;
  fim: FimSettings;
  testFraction: number;
  /** Conversations: loss on the assistant's turns only (default true); pairs always train on the completion only. */
  lossOnAnswersOnly?: boolean;
  /** Most of the training characters that commits of the history may be (DEFAULT_HISTORY_SHARE when absent). */
  historyShare?: number;
  /**
   * Share of the runs of related files of one repository (that fit one sequence) trained as one
   * repository-level sequence; 0 or absent = every file alone. Training files only.
   */
  repoShare?: number;
}

export const DEFAULT_HISTORY_SHARE = 0.2;

export const DEFAULT_DATASET: Omit<DatasetSettings, 'seqLen' | 'seed'> = { fim: DEFAULT_FIM, testFraction: 0.1 };

export interface DatasetStats {
  trainFiles: number;
  testFiles: number;
  trainTokens: number;
  testTokens: number;
  plain: number;
  psm: number;
  spm: number;
  /** Conversations and prompt/completion pairs (train and test together). */
  chats: number;
  pairs?: number;
  /** Supervised examples held out for test loss. */
  testExamples?: number;
  /** Lines skipped (bad JSON, missing fields, a template that failed), each reported. */
  badLines?: number;
  /** Commits of the history trained on (never FIM, never in the test set). */
  commits?: number;
  split: Split['how'];
  /** Repository-level sequences and the files in them (absent in runs made before they existed). */
  repoSequences?: number;
  repoFiles?: number;
}

export interface Dataset {
  settings: DatasetSettings;
  train: PackedTokens;
  test: PackedTokens;
  trainPaths: string[];
  testPaths: string[];
  stats: DatasetStats;
  /** The supervised lines that were skipped, and why (not stored with the dataset). */
  bad?: BadLine[];
}

/** Supervised examples to mix in, with the model's chat format (undefined: a base model without a template). */
export interface SupervisedInput {
  examples: SupervisedExample[];
  format?: ChatFormat;
  /** Lines already skipped while reading the files; reported with the others. */
  bad?: BadLine[];
}

export interface BuildOptions {
  supervised?: SupervisedInput;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

/** One training document: a code file (plain or FIM), a commit, a rendered conversation, a pair. */
export interface DatasetDocument {
  split: 'train' | 'test';
  /** "source/path" for a file, "file:line" for an example. */
  source: string;
  kind: 'plain' | 'psm' | 'spm' | 'repo' | 'commit' | 'chat' | 'pair';
  segments: Segment[];
  /** A repository sequence: how each of its files was encoded (plain or FIM). */
  fimKinds?: Array<'plain' | 'psm' | 'spm'>;
}

function shuffled<T>(items: T[], rng: Rng): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/**
 * Supervised examples held out for test loss: a seeded choice of round(fraction·n) (at most
 * half), at least one when there is no test file to measure on.
 */
export function splitExamples(
  examples: SupervisedExample[],
  s: { testFraction: number; seed: number },
  haveTestFiles: boolean,
): { train: SupervisedExample[]; test: SupervisedExample[] } {
  const n = examples.length;
  const k = Math.min(Math.floor(n / 2), Math.max(haveTestFiles ? 0 : 1, Math.round(s.testFraction * n)));
  const rng = new Rng(s.seed ^ 0x5eed ^ 0xe4a3);
  const order = examples.map((_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const test = new Set(order.slice(0, k));
  return { train: examples.filter((_, i) => !test.has(i)), test: examples.filter((_, i) => test.has(i)) };
}

/**
 * The commits that go into training: in a seeded order, as many as keep their characters
 * within `share` of all training characters (code files + commits); none with share 0.
 */
export function pickHistory(commits: TrainingFile[], trainFiles: TrainingFile[], share: number, seed: number): TrainingFile[] {
  if (!commits.length || share <= 0) return [];
  const codeChars = trainFiles.reduce((a, f) => a + f.text.length, 0);
  const budget = (share / (1 - share)) * codeChars;
  const out: TrainingFile[] = [];
  let used = 0;
  for (const c of shuffled(commits, new Rng(seed * 7919 + 3))) {
    if (used + c.text.length > budget) continue;
    out.push(c);
    used += c.text.length;
  }
  return out;
}

/** A document to train on: a file, a repository sequence of several files, a commit, a conversation, an example. */
type Doc = { file?: TrainingFile; repo?: TrainingFile[]; commit?: TrainingFile; example?: SupervisedExample };

/** Files, then examples, split and ordered as training uses them. */
function plan(files: TrainingFile[], s: DatasetSettings, opts: BuildOptions) {
  // Sorted first: the dataset depends on the files and the seed, never on the order they came in.
  const sorted = [...files].sort((a, b) =>
    `${a.source}\0${a.path}` < `${b.source}\0${b.path}` ? -1 : `${a.source}\0${a.path}` > `${b.source}\0${b.path}` ? 1 : 0,
  );
  // Examples too: by file and line, so the order the files were given in changes nothing.
  const examples = [...(opts.supervised?.examples ?? [])].sort((a, b) =>
    a.source < b.source ? -1 : a.source > b.source ? 1 : a.line - b.line,
  );
  // Commits of the history are training text only: never split off for test loss, never FIM.
  const code = sorted.filter((f) => f.kind !== 'commit');
  // Supervised data alone (or with one file) is a dataset: its examples give the test loss.
  const split: Split =
    examples.length && code.length < 2 && !code.some((f) => f.test)
      ? { train: code, test: [], how: 'seeded' }
      : splitFiles(code, { testFraction: s.testFraction, seed: s.seed });
  const history = pickHistory(
    sorted.filter((f) => f.kind === 'commit'),
    split.train,
    s.historyShare ?? DEFAULT_HISTORY_SHARE,
    s.seed,
  );
  // Its own random numbers, so a share of 0 gives exactly the dataset without repository sequences.
  const repo = chooseRepoSequences(split.train, s.repoShare ?? 0, s.seqLen * CHARS_PER_TOKEN, new Rng(s.seed * 7919 + 3));
  const ex = splitExamples(examples, s, split.test.length > 0);
  const rng = new Rng(s.seed);
  const train: Doc[] = shuffled(
    [
      ...repo.singles.map((file) => ({ file })),
      ...history.map((commit) => ({ commit })),
      ...ex.train.map((example) => ({ example })),
      ...repo.sequences.map((files) => ({ repo: files })),
    ],
    rng,
  );
  const test: Doc[] = [...split.test.map((file) => ({ file })), ...ex.test.map((example) => ({ example }))];
  return { split, history, repo, train, test, examples: ex };
}

/**
 * Every document in training order, train then test, with its loss mask. An example the
 * template cannot render is reported through `onBad` and skipped.
 */
export function* datasetDocuments(
  files: TrainingFile[],
  tok: DocTokenizer,
  s: DatasetSettings,
  opts: BuildOptions = {},
  onBad: (b: BadLine) => void = () => {},
): Generator<DatasetDocument> {
  const p = plan(files, s, opts);
  const format = opts.supervised?.format;
  const answersOnly = s.lossOnAnswersOnly ?? true;
  if (!format && p.examples.train.concat(p.examples.test).some((e) => e.kind === 'chat'))
    throw new DatasetError(
      'NO_CHAT_TEMPLATE',
      "This model's tokenizer has no chat template, so conversations cannot be rendered. Use an instruct model, or prompt/completion pairs (trained as prompt + completion + EOS).",
    );
  for (const [split, docs, docRng] of [
    ['train', p.train, new Rng(s.seed * 7919 + 1)],
    ['test', p.test, new Rng(s.seed * 7919 + 2)],
  ] as const) {
    for (const d of docs) {
      if (d.file) {
        const doc = encodeDocument(tok, d.file.text, docRng, s.fim);
        yield { split, source: `${d.file.source}/${d.file.path}`, kind: doc.kind, segments: doc.segments };
      } else if (d.repo) {
        // Several files of one repository in the family's repository format, FIM per file.
        const seq = encodeRepoSequence(tok, d.repo[0].source, d.repo, docRng, s.fim);
        yield { split, source: `${d.repo[0].source} (${d.repo.length} files)`, kind: 'repo', segments: seq.segments, fimKinds: seq.kinds };
      } else if (d.commit) {
        // Commits in the family's commit format, left to right: no FIM.
        yield { split, source: `${d.commit.source}/${d.commit.path}`, kind: 'commit', segments: encodeCommit(tok, d.commit.text).segments };
      } else if (d.example) {
        const e = d.example;
        let segments: Segment[];
        try {
          segments = encodeExample(tok, format, e, answersOnly);
        } catch (err) {
          onBad({ source: e.source, line: e.line, reason: `not rendered: ${(err as Error).message}` });
          continue;
        }
        yield { split, source: `${e.source}:${e.line}`, kind: e.kind, segments };
      }
    }
  }
}

export async function buildDataset(
  files: TrainingFile[],
  tok: DocTokenizer,
  s: DatasetSettings,
  opts: BuildOptions = {},
): Promise<Dataset> {
  const p = plan(files, s, opts);
  const examples = [...p.examples.train, ...p.examples.test];
  const bad: BadLine[] = [...(opts.supervised?.bad ?? [])];
  const stats: DatasetStats = {
    trainFiles: p.split.train.length,
    testFiles: p.split.test.length,
    trainTokens: 0,
    testTokens: 0,
    plain: 0,
    psm: 0,
    spm: 0,
    chats: examples.filter((e) => e.kind === 'chat').length,
    pairs: examples.filter((e) => e.kind === 'pair').length,
    testExamples: p.examples.test.length,
    badLines: 0,
    commits: p.history.length,
    split: p.split.how,
    repoSequences: p.repo.sequences.length,
    repoFiles: p.repo.sequences.reduce((n, r) => n + r.length, 0),
  };
  const streams = { train: new TokenStream(), test: new TokenStream() };
  const total = p.train.length + p.test.length;
  let done = 0;
  for (const d of datasetDocuments(files, tok, s, opts, (b) => bad.push(b))) {
    opts.signal?.throwIfAborted();
    streams[d.split].push(d.segments);
    if (d.kind === 'plain' || d.kind === 'psm' || d.kind === 'spm') stats[d.kind]++;
    for (const k of d.fimKinds ?? []) stats[k]++;
    if (++done % 16 === 0 || done === total) {
      opts.onProgress?.({ phase: 'tokenizing', done, total });
      await new Promise((r) => setTimeout(r, 0)); // let a cancel arrive
    }
  }
  stats.badLines = bad.length;
  const train = streams.train.pack(s.seqLen);
  const test = streams.test.pack(s.seqLen);
  stats.trainTokens = train.ids.length;
  stats.testTokens = test.ids.length;
  if (!usableBlocks(train).length)
    throw new DatasetError('NO_TOKENS', 'The training files hold no tokens to train on. Add sources with code in them.');
  if (!usableBlocks(test).length)
    throw new DatasetError(
      'NO_TOKENS',
      examples.length
        ? 'Nothing was held out to measure test loss on: add more examples (at least 2) or code files.'
        : 'The test files hold no tokens to measure test loss on. Mark other files as test files.',
    );
  return {
    settings: s,
    train,
    test,
    trainPaths: p.split.train.map((f) => f.path),
    testPaths: p.split.test.map((f) => f.path),
    stats,
    bad,
  };
}
