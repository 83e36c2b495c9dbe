// What training consumes: one accepted source file. The sources/filter stage produces
// these (from IndexedDB in the browser, from an import in Node); everything in
// src/data/dataset and src/train is built on this shape only.
export interface TrainingFile {
  /** Path inside its source (used for messages, the split and the FIM evaluation). */
  path: string;
  /** Which source it came from (a repository URL, an archive name, "picked files"). */
  source: string;
  text: string;
  /** The user marked it as a test file (held out from training, used for test loss). */
  test: boolean;
}

export class DatasetError extends Error {
  constructor(
    readonly code: 'TOO_FEW_FILES' | 'NO_TRAIN_FILES' | 'NO_TOKENS' | 'BAD_CHAT' | 'BAD_DATASET',
    message: string,
  ) {
    super(message);
    this.name = 'DatasetError';
  }
}
