// What training consumes: one accepted source file (types.ts), produced by the
// sources/filter stage (training-files.ts: IndexedDB in the browser, an import in Node);
// everything in src/data/dataset and src/train is built on this shape only.
export type { TrainingFile } from './types.ts';

export class DatasetError extends Error {
  constructor(
    readonly code: 'TOO_FEW_FILES' | 'NO_TRAIN_FILES' | 'NO_TOKENS' | 'BAD_CHAT' | 'BAD_DATASET',
    message: string,
  ) {
    super(message);
    this.name = 'DatasetError';
  }
}
