// The dataset builder: accepted files (+ optional chat conversations) → train/test
// token blocks with loss masks, deterministic for a seed. Runs in a worker or in Node.
import { Rng } from '../../random.ts';
import type { Progress } from '../../progress.ts';
import type { TrainingFile } from '../types.ts';
import { DatasetError } from '../errors.ts';
import { encodeDocument, DEFAULT_FIM, type DocTokenizer, type FimSettings } from './fim.ts';
import { encodeCommit } from './commit-format.ts';
import { TokenStream, usableBlocks, type PackedTokens } from './pack.ts';
import { splitFiles, type Split } from './split.ts';

export interface DatasetSettings {
  seqLen: number;
  seed: number;
  fim: FimSettings;
  testFraction: number;
  /** Most of the training characters that commits of the history may be (DEFAULT_HISTORY_SHARE when absent). */
  historyShare?: number;
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
  chats: number;
  /** Commits of the history trained on (never FIM, never in the test set). */
  commits?: number;
  split: Split['how'];
}

export interface Dataset {
  settings: DatasetSettings;
  train: PackedTokens;
  test: PackedTokens;
  trainPaths: string[];
  testPaths: string[];
  stats: DatasetStats;
}

export interface BuildOptions {
  /** Rendered conversations (chat.ts), mixed with the training files. */
  chats?: string[];
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
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

export async function buildDataset(
  files: TrainingFile[],
  tok: DocTokenizer,
  s: DatasetSettings,
  opts: BuildOptions = {},
): Promise<Dataset> {
  // Sorted first: the dataset depends on the files and the seed, never on the order they came in.
  const sorted = [...files].sort((a, b) =>
    `${a.source}\0${a.path}` < `${b.source}\0${b.path}` ? -1 : `${a.source}\0${a.path}` > `${b.source}\0${b.path}` ? 1 : 0,
  );
  // Commits of the history are training text only: never split off for test loss, never FIM.
  const split = splitFiles(
    sorted.filter((f) => f.kind !== 'commit'),
    { testFraction: s.testFraction, seed: s.seed },
  );
  const history = pickHistory(
    sorted.filter((f) => f.kind === 'commit'),
    split.train,
    s.historyShare ?? DEFAULT_HISTORY_SHARE,
    s.seed,
  );
  const rng = new Rng(s.seed);
  const trainDocs = shuffled(
    [
      ...split.train.map((f) => ({ text: f.text, chat: false, commit: false })),
      ...history.map((f) => ({ text: f.text, chat: false, commit: true })),
      ...(opts.chats ?? []).map((text) => ({ text, chat: true, commit: false })),
    ],
    rng,
  );
  const testDocs = split.test.map((f) => ({ text: f.text, chat: false, commit: false }));
  const stats: DatasetStats = {
    trainFiles: split.train.length,
    testFiles: split.test.length,
    trainTokens: 0,
    testTokens: 0,
    plain: 0,
    psm: 0,
    spm: 0,
    chats: opts.chats?.length ?? 0,
    commits: history.length,
    split: split.how,
  };
  const total = trainDocs.length + testDocs.length;
  let done = 0;
  const encodeAll = async (docs: Array<{ text: string; chat: boolean; commit: boolean }>, docRng: Rng) => {
    const stream = new TokenStream();
    for (const d of docs) {
      opts.signal?.throwIfAborted();
      // Conversations are trained as rendered (their template has its own end tokens) and commits
      // in their commit format: no FIM for either.
      const doc = d.commit ? encodeCommit(tok, d.text) : encodeDocument(tok, d.text, docRng, d.chat ? { ...s.fim, fimRate: 0 } : s.fim);
      stream.push(doc.segments);
      if (!d.chat && !d.commit) stats[doc.kind]++;
      if (++done % 16 === 0 || done === total) {
        opts.onProgress?.({ phase: 'tokenizing', done, total });
        await new Promise((r) => setTimeout(r, 0)); // let a cancel arrive
      }
    }
    return stream.pack(s.seqLen);
  };
  const train = await encodeAll(trainDocs, new Rng(s.seed * 7919 + 1));
  const test = await encodeAll(testDocs, new Rng(s.seed * 7919 + 2));
  stats.trainTokens = train.ids.length;
  stats.testTokens = test.ids.length;
  if (!usableBlocks(train).length)
    throw new DatasetError('NO_TOKENS', 'The training files hold no tokens to train on. Add sources with code in them.');
  if (!usableBlocks(test).length)
    throw new DatasetError('NO_TOKENS', 'The test files hold no tokens to measure test loss on. Mark other files as test files.');
  return { settings: s, train, test, trainPaths: split.train.map((f) => f.path), testPaths: split.test.map((f) => f.path), stats };
}
