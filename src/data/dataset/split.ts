// Train/test split by file: the files the user marked as test, otherwise a seeded
// choice of max(min(3, ⌊n/2⌋), round(fraction·n)) files (Refact takes min(3, n/2)).
import { Rng } from '../../random.ts';
import type { TrainingFile } from '../types.ts';
import { DatasetError } from '../errors.ts';

export interface SplitSettings {
  /** Share of files held out when none is marked (0.1 by default); at most half of them. */
  testFraction: number;
  seed: number;
}

export interface Split {
  train: TrainingFile[];
  test: TrainingFile[];
  /** How the test set was chosen. */
  how: 'marked' | 'seeded';
}

export function testCount(n: number, fraction: number): number {
  return Math.min(Math.floor(n / 2), Math.max(Math.min(3, Math.floor(n / 2)), Math.round(fraction * n)));
}

export function splitFiles(files: TrainingFile[], s: SplitSettings): Split {
  const marked = files.filter((f) => f.test);
  if (marked.length) {
    const train = files.filter((f) => !f.test);
    if (!train.length)
      throw new DatasetError(
        'NO_TRAIN_FILES',
        `All ${files.length} files are marked as test files: unmark some so there is something to train on.`,
      );
    return { train, test: marked, how: 'marked' };
  }
  if (files.length < 2)
    throw new DatasetError(
      'TOO_FEW_FILES',
      `Training needs at least 2 files (one to train on, one to measure test loss); ` +
        `there ${files.length === 1 ? 'is 1' : `are ${files.length}`}. Add more sources, or loosen the filter.`,
    );
  // Sorted first, so the choice depends on the files and the seed only, not their order.
  const sorted = [...files].sort((a, b) => (`${a.source}\0${a.path}` < `${b.source}\0${b.path}` ? -1 : 1));
  const rng = new Rng(s.seed ^ 0x5eed);
  for (let i = sorted.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [sorted[i], sorted[j]] = [sorted[j], sorted[i]];
  }
  const k = testCount(files.length, s.testFraction);
  const test = new Set(sorted.slice(0, k));
  return { train: files.filter((f) => !test.has(f)), test: files.filter((f) => test.has(f)), how: 'seeded' };
}
