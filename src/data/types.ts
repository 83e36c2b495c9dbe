// The shapes shared by sources, the filter, storage and the training side.

/** One file brought in by a source: its path inside the source and its bytes. */
export interface SourceFile {
  path: string;
  bytes: Uint8Array;
  /** Marked by the user as part of the test set. */
  test?: boolean;
  /** 'commit': a commit of the source's history (bytes: its CommitExample as JSON; path: `commit:<oid>`). */
  kind?: EntryKind;
}

/** What an entry of a source is: a file of its tree (the default) or a commit of its history. */
export type EntryKind = 'file' | 'commit';

/** One changed file of a commit: its unified diff against the parent (a few lines of context). */
export interface CommitChange {
  path: string;
  status: 'added' | 'modified' | 'deleted';
  /** `--- a/…` `+++ b/…` and the hunks; null when not diffed (see `skipped`). */
  patch: string | null;
  /** Why there is no patch: a binary side, or a side or diff too large to diff. */
  skipped?: 'binary' | 'too_large';
}

/** A non-merge commit as training data: its message and the diff of each changed file. */
export interface CommitExample {
  oid: string;
  /** The parent diffed against; null for a root commit (everything added). */
  parent: string | null;
  author: { name: string; email: string };
  /** Author time, seconds since the epoch. */
  time: number;
  message: string;
  changes: CommitChange[];
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
  /** Commits of the history stored with the files (git, depth > 1). */
  commits?: number;
  addedAt: number;
  updatedAt: number;
  fileCount: number;
  bytes: number;
}

export const REJECT_REASONS = [
  'linguist_error',
  'bot_author',
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
  /** 'commit' for a commit of the history (its `path` is `commit:<oid>`); absent for files. */
  kind?: EntryKind;
  /** A commit's subject line. */
  title?: string;
  /** A commit's author time (seconds since the epoch): commits are listed and deduplicated newest first. */
  time?: number;
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
  /** 'commit': a commit of the history in the plain commit format (never a test file, never FIM). */
  kind?: EntryKind;
}
