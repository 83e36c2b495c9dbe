// A repository's history as training data: the latest N non-merge commits, each with its
// message and the unified diff (jsdiff, 3 lines of context) of every changed file against
// its parent. isomorphic-git reads it from any clone: lightning-fs in the browser, the disk
// in Node (a clone of the CLI, or a local repository's own .git).
import './buffer-global.ts';
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';
import git, { type PromiseFsClient, type ReadCommitResult, type WalkerEntry } from 'isomorphic-git';
import type { ProgressListener } from '../../progress.ts';
import { SourceError } from '../errors.ts';
import { binaryReason, decodeText } from '../filter/content.ts';
import type { CommitChange, CommitExample, SourceFile } from '../types.ts';

/** Lines of context around each change (git's default). */
export const DIFF_CONTEXT = 3;
/** A side larger than this is not diffed (the change is marked too large). */
export const MAX_DIFF_SIDE_BYTES = 512 * 1024;
/** Past this many inserted + removed lines jsdiff gives up (the change is marked too large). */
const MAX_EDIT_LENGTH = 20_000;
/** Past this much diff text in one commit the rest of its changes are not diffed (stage 1 rejects it as too large). */
const MAX_COMMIT_PATCH_BYTES = 1024 * 1024;

export interface HistoryOptions {
  /** Commits to take at most (merges are not taken and not counted). */
  max: number;
  /** For messages: the repository as the user named it. */
  label?: string;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
}

export interface History {
  commits: CommitExample[];
  /** Merge commits passed over. */
  merges: number;
  /** The history ended at a shallow clone's edge (a parent that was not fetched). */
  shallowEdge: boolean;
}

async function blob(e: WalkerEntry | null): Promise<WalkerEntry | null> {
  if (!e || (await e.type()) !== 'blob') return null;
  return (await e.mode()) === 0o120000 ? null : e; // links are not code
}

function diffOf(path: string, before: Uint8Array | null, after: Uint8Array | null): CommitChange {
  const status = before === null ? 'added' : after === null ? 'deleted' : 'modified';
  const sides = [before, after].filter((b): b is Uint8Array => b !== null);
  if (sides.some((b) => b.length > MAX_DIFF_SIDE_BYTES)) return { path, status, patch: null, skipped: 'too_large' };
  if (sides.some((b) => binaryReason(b))) return { path, status, patch: null, skipped: 'binary' };
  const patch = createTwoFilesPatch(
    before ? `a/${path}` : '/dev/null',
    after ? `b/${path}` : '/dev/null',
    before ? decodeText(before) : '',
    after ? decodeText(after) : '',
    undefined,
    undefined,
    { context: DIFF_CONTEXT, maxEditLength: MAX_EDIT_LENGTH, headerOptions: FILE_HEADERS_ONLY },
  );
  return patch === undefined ? { path, status, patch: null, skipped: 'too_large' } : { path, status, patch };
}

/** The files that differ between two commits (the parent may be null: a root commit). */
async function commitChanges(fs: PromiseFsClient, dir: string, parent: string | null, oid: string, signal?: AbortSignal) {
  const changes: CommitChange[] = [];
  let patchBytes = 0;
  const trees = parent ? [git.TREE({ ref: parent }), git.TREE({ ref: oid })] : [git.TREE({ ref: oid })];
  await git.walk({
    fs,
    dir,
    trees,
    map: async (path, entries) => {
      signal?.throwIfAborted();
      if (path === '.') return true;
      const [a, b] = parent ? [entries[0], entries[1]] : [null, entries[0]];
      // An unchanged folder is not walked into.
      if (a && b && (await a.type()) === 'tree' && (await b.type()) === 'tree' && (await a.oid()) === (await b.oid())) return null;
      const [ba, bb] = [await blob(a), await blob(b)];
      if ((ba || bb) && !(ba && bb && (await ba.oid()) === (await bb.oid()))) {
        if (patchBytes > MAX_COMMIT_PATCH_BYTES) {
          changes.push({ path, status: !ba ? 'added' : !bb ? 'deleted' : 'modified', patch: null, skipped: 'too_large' });
          return true;
        }
        const [before, after] = [ba ? ((await ba.content()) ?? null) : null, bb ? ((await bb.content()) ?? null) : null];
        const change = diffOf(path, before, after);
        patchBytes += change.patch?.length ?? 0;
        changes.push(change);
      }
      return true;
    },
  });
  return changes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}

async function hasCommit(fs: PromiseFsClient, dir: string, oid: string): Promise<boolean> {
  try {
    await git.readCommit({ fs, dir, oid });
    return true;
  } catch {
    return false;
  }
}

/**
 * The latest `max` non-merge commits reachable from `head`, newest first, each diffed
 * against its first parent. A commit whose parent is not in the clone (a shallow clone's
 * edge) ends the history: it cannot be diffed.
 */
export async function readHistory(fs: PromiseFsClient, dir: string, head: string, o: HistoryOptions): Promise<History> {
  try {
    return await readCommits(fs, dir, head, o);
  } catch (err) {
    if (o.signal?.aborted || (err as Error)?.name === 'AbortError') throw err;
    throw new SourceError(
      'GIT_FAILED',
      `Reading the history of ${o.label ?? dir} failed: ${err instanceof Error ? err.message : String(err)}. Check that it is a git repository with at least one commit, or leave out the history.`,
      { cause: err },
    );
  }
}

async function readCommits(fs: PromiseFsClient, dir: string, head: string, o: HistoryOptions): Promise<History> {
  const out: History = { commits: [], merges: 0, shallowEdge: false };
  if (o.max <= 0) return out;
  // Merges are passed over, so look a little further than `max`.
  const log: ReadCommitResult[] = await git.log({ fs, dir, ref: head, depth: o.max * 2 + 16 });
  for (const c of log) {
    o.signal?.throwIfAborted();
    if (out.commits.length >= o.max) break;
    const parents = c.commit.parent;
    if (parents.length > 1) {
      out.merges++;
      continue;
    }
    const parent = parents[0] ?? null;
    if (parent && !(await hasCommit(fs, dir, parent))) {
      out.shallowEdge = true;
      break;
    }
    out.commits.push({
      oid: c.oid,
      parent,
      author: { name: c.commit.author.name, email: c.commit.author.email },
      time: c.commit.author.timestamp,
      message: c.commit.message.replace(/\s+$/, ''),
      changes: await commitChanges(fs, dir, parent, c.oid, o.signal),
    });
    o.onProgress?.({ phase: 'reading history', done: out.commits.length, total: o.max, detail: c.oid.slice(0, 7) });
  }
  return out;
}

export const commitPath = (oid: string) => `commit:${oid}`;

/** A commit as a source entry (stored and filtered next to the files). */
export function commitEntry(c: CommitExample): SourceFile {
  return { path: commitPath(c.oid), bytes: new TextEncoder().encode(JSON.stringify(c)), kind: 'commit' };
}

/** The commit a source entry holds; throws on bytes that are not one. */
export function readCommitEntry(bytes: Uint8Array): CommitExample {
  const c = JSON.parse(decodeText(bytes)) as CommitExample;
  if (typeof c?.oid !== 'string' || typeof c.message !== 'string' || !Array.isArray(c.changes)) throw new Error('not a stored commit');
  return c;
}
