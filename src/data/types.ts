// The shapes shared by sources, the filter, storage and the training side.

/** One file brought in by a source: its path inside the source and its bytes. */
export interface SourceFile {
  path: string;
  bytes: Uint8Array;
  /** Marked by the user as part of the test set. */
  test?: boolean;
}

export type SourceKind = 'git' | 'archive' | 'files';

/** A source as stored (IndexedDB in the browser). The git token is kept only in this browser. */
export interface SourceRecord {
  id: string;
  kind: SourceKind;
  /** Display name: the repository URL, the archive's file name, or the folder/file name. */
  name: string;
  url?: string;
  ref?: string;
  depth?: number;
  /** Private repositories: stored only in this browser's IndexedDB, sent only to the git host. */
  token?: string;
  /** The commit the files were read from (git). */
  commit?: string;
  addedAt: number;
  updatedAt: number;
  fileCount: number;
  bytes: number;
}

export const REJECT_REASONS = [
  'linguist_error',
  'not_text',
  'secrets',
  'not_code',
  'too_large',
  'generated',
  'vendored',
  'lots_of_digits',
  'excluded_by_mask',
  'ignored',
  'type_off',
  'duplicate',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];
export type DecisionReason = 'accepted' | RejectReason;

/** What stage 1 decided for one file, and why (the numbers are in `detail`). */
export interface FileDecision {
  path: string;
  source: string;
  accepted: boolean;
  reason: DecisionReason;
  detail: string;
  language: string | null;
  bytes: number;
  lines: number;
  test: boolean;
  /** For duplicates: the file this one duplicates, and the estimated Jaccard similarity (1 = identical). */
  duplicateOf?: { source: string; path: string; similarity: number };
}

/** What the training side consumes: one accepted file's text. */
export interface TrainingFile {
  /** Path inside its source (used for messages, the split and the FIM evaluation). */
  path: string;
  /** Which source it came from (a repository URL, an archive name, a folder). */
  source: string;
  text: string;
  /** The user marked it as a test file (held out from training, used for test loss). */
  test: boolean;
}
