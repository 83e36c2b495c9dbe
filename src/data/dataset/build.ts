// The dataset builder: accepted files (+ optional chat conversations) → train/test
// token blocks with loss masks, deterministic for a seed. Runs in a worker or in Node.
import { Rng } from '../../random.ts';
import type { Progress } from '../../progress.ts';
import type { TrainingFile } from '../types.ts';
import { DatasetError } from '../errors.ts';
import { encodeDocument, DEFAULT_FIM, type DocTokenizer, type FimSettings } from './fim.ts';
import { TokenStream, usableBlocks, type PackedTokens } from './pack.ts';
import { splitFiles, type Split } from './split.ts';
import { CHARS_PER_TOKEN, chooseRepoSequences, encodeRepoSequence } from './repo.ts';

export interface DatasetSettings {
  seqLen: number;
  seed: number;
  fim: FimSettings;
  testFraction: number;
  /**
   * Share of the runs of related files of one repository (that fit one sequence) trained as one
   * repository-level sequence; 0 or absent = every file alone. Training files only.
   */
  repoShare?: number;
}

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

/** A training document: one file, one conversation, or a repository sequence of several files. */
interface Doc {
  text: string;
  chat: boolean;
  repo?: TrainingFile[];
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
  const split = splitFiles(sorted, { testFraction: s.testFraction, seed: s.seed });
  const rng = new Rng(s.seed);
  // Its own random numbers, so a share of 0 gives exactly the dataset of before.
  const repo = chooseRepoSequences(split.train, s.repoShare ?? 0, s.seqLen * CHARS_PER_TOKEN, new Rng(s.seed * 7919 + 3));
  const trainDocs = shuffled<Doc>(
    [
      ...repo.singles.map((f) => ({ text: f.text, chat: false })),
      ...(opts.chats ?? []).map((text) => ({ text, chat: true })),
      ...repo.sequences.map((files) => ({ text: '', chat: false, repo: files })),
    ],
    rng,
  );
  const testDocs: Doc[] = split.test.map((f) => ({ text: f.text, chat: false }));
  const stats: DatasetStats = {
    trainFiles: split.train.length,
    testFiles: split.test.length,
    trainTokens: 0,
    testTokens: 0,
    plain: 0,
    psm: 0,
    spm: 0,
    chats: opts.chats?.length ?? 0,
    split: split.how,
    repoSequences: repo.sequences.length,
    repoFiles: repo.sequences.reduce((n, r) => n + r.length, 0),
  };
  const total = trainDocs.length + testDocs.length;
  let done = 0;
  const encodeAll = async (docs: Doc[], docRng: Rng) => {
    const stream = new TokenStream();
    for (const d of docs) {
      opts.signal?.throwIfAborted();
      if (d.repo) {
        const seq = encodeRepoSequence(tok, d.repo[0].source, d.repo, docRng, s.fim);
        stream.push(seq.segments);
        for (const k of seq.kinds) stats[k]++;
      } else {
        // Conversations are trained as rendered (their template has its own end tokens): no FIM.
        const doc = encodeDocument(tok, d.text, docRng, d.chat ? { ...s.fim, fimRate: 0 } : s.fim);
        stream.push(doc.segments);
        if (!d.chat) stats[doc.kind]++;
      }
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
