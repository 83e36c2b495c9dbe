// Node side of sources, for the CLI and training headless: a folder, a single file, an
// archive, or a git URL (cloned into a temporary folder with the same isomorphic-git code
// the browser uses), read into memory as SourceFiles.
import * as fs from 'node:fs';
import { mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative, sep } from 'node:path';
import type { ProgressListener } from '../progress.ts';
import { SourceError } from './errors.ts';
import { archiveKind, readArchive } from './sources/archive.ts';
import { DEFAULT_ARCHIVE_LIMITS } from './sources/archive-limits.ts';
import { concat } from './sources/zip.ts';
import { DEFAULT_MAX_PACK_BYTES, fetchHttpClient, gitClone, readCommitFiles } from './sources/git.ts';
import { commitEntry, readHistory, type History } from './sources/history.ts';
import { parseRepoUrl } from './sources/git-url.ts';
import type { SourceFile, SourceKind } from './types.ts';

export interface LoadedSource {
  /** The name decisions carry as `source`: the URL, the archive's or folder's name. */
  name: string;
  kind: SourceKind;
  files: SourceFile[];
  skipped: Array<{ path: string; why: string }>;
  commit?: string;
  /** With `history`: the commits taken (as source entries, kind 'commit'), and what was passed over. */
  commits?: SourceFile[];
  history?: { taken: number; merges: number; shallowEdge: boolean };
}

export interface NodeSourceOptions {
  ref?: string;
  depth?: number;
  token?: string;
  /** Commits of the history to take from a git URL or a local repository (0: none). */
  history?: number;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
}

/** Is this source one history can be read from: a git URL, or a folder holding a repository? */
export function isGitSpec(spec: string): boolean {
  return isUrl(spec) || fs.existsSync(join(spec, '.git', 'HEAD'));
}

const isUrl = (spec: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(spec);

function historyOf(h: History): Pick<LoadedSource, 'commits' | 'history'> {
  return { commits: h.commits.map(commitEntry), history: { taken: h.commits.length, merges: h.merges, shallowEdge: h.shallowEdge } };
}

/** The same caps as for archives: one file, and all files of one source. */
const MAX_FILE = DEFAULT_ARCHIVE_LIMITS.maxFileBytes;
const MAX_TOTAL = DEFAULT_ARCHIVE_LIMITS.maxTotalBytes;
const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;

/**
 * Reads a regular file, never more than `limit` bytes: the size is checked before reading
 * and the read stops at the limit even if the file grows (or lies about its size, as /proc does).
 * Devices (/dev/zero) and FIFOs are refused before they are opened, so nothing hangs.
 */
export async function readRegularFile(path: string, limit: number): Promise<Uint8Array> {
  const st = await stat(path);
  if (!st.isFile())
    throw new SourceError(
      'SOURCE_NOT_REGULAR',
      `${path} is ${st.isFIFO() ? 'a FIFO (named pipe)' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file'}: give a folder, a regular file, an archive or a git URL.`,
    );
  const tooLarge = () =>
    new SourceError(
      'SOURCE_TOO_LARGE',
      `${path} is larger than ${mib(limit)}, the most Homecoder reads from one source file. Give a smaller file or a folder.`,
    );
  if (st.size > limit) throw tooLarge();
  const fh = await open(path, 'r');
  try {
    const chunks: Uint8Array[] = [];
    let done = 0;
    for (;;) {
      const chunk = new Uint8Array(Math.min(Math.max(st.size - done, 64 * 1024), limit + 1 - done));
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, done);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      done += bytesRead;
      if (done > limit) throw tooLarge();
    }
    return concat(chunks, done);
  } finally {
    await fh.close();
  }
}

async function walk(
  root: string,
  dir: string,
  out: SourceFile[],
  skipped: LoadedSource['skipped'],
  total: { bytes: number },
): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, e.name);
    const path = relative(root, full).split(sep).join('/');
    if (e.isDirectory()) {
      if (e.name === '.git') continue; // the repository's own database, not its files
      await walk(root, full, out, skipped, total);
    } else if (e.isFile()) {
      const size = (await stat(full)).size;
      if (size > MAX_FILE) {
        skipped.push({ path, why: `larger than ${mib(MAX_FILE)}` });
        continue;
      }
      const bytes = await readRegularFile(full, MAX_FILE);
      total.bytes += bytes.length;
      if (total.bytes > MAX_TOTAL)
        throw new SourceError(
          'SOURCE_TOO_LARGE',
          `${root} holds more than ${mib(MAX_TOTAL)} of files: give a smaller folder (or its source subfolders one by one).`,
        );
      out.push({ path, bytes });
    } else skipped.push({ path, why: e.isSymbolicLink() ? 'a link' : 'a device, fifo or other special entry' });
  }
}

/** The pack size cap: HOMECODER_GIT_MAX_MB (MiB), else 1 GiB. */
function maxPackBytes(): number {
  const mb = Number(process.env.HOMECODER_GIT_MAX_MB);
  return mb > 0 ? mb * 2 ** 20 : DEFAULT_MAX_PACK_BYTES;
}

export async function loadNodeSource(spec: string, opts: NodeSourceOptions = {}): Promise<LoadedSource> {
  const history = opts.history ?? 0;
  if (isUrl(spec)) {
    const url = parseRepoUrl(spec);
    const dir = await mkdtemp(join(tmpdir(), 'homecoder-clone-'));
    try {
      const o = {
        fs,
        http: fetchHttpClient(opts.signal, maxPackBytes()),
        dir,
        url: url.href,
        shownUrl: url.href,
        ref: opts.ref,
        // N commits need their N parents too (the oldest is diffed against its parent).
        depth: history > 0 ? Math.max(opts.depth ?? 1, history + 1) : opts.depth,
        token: opts.token,
        signal: opts.signal,
        onProgress: opts.onProgress,
      };
      const commit = await gitClone(o);
      const files = await readCommitFiles(fs, dir, commit, opts);
      const h = history > 0 ? historyOf(await readHistory(fs, dir, commit, { ...opts, max: history, label: url.href })) : {};
      return { name: url.href, kind: 'git', files, skipped: [], commit, ...h };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(spec);
  } catch {
    throw new SourceError('PATH_NOT_FOUND', `${spec} does not exist: give a folder, a file, an archive or a git URL.`);
  }
  if (st.isDirectory()) {
    const files: SourceFile[] = [];
    const skipped: LoadedSource['skipped'] = [];
    await walk(spec, spec, files, skipped, { bytes: 0 });
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const name = basename(spec.replace(/[/\\]+$/, '')) || spec;
    // A local repository: its files as they are in the folder, its history from its own .git.
    if (history > 0 && isGitSpec(spec)) {
      const h = await readHistory(fs, spec, 'HEAD', { ...opts, max: history, label: spec });
      return { name, kind: 'files', files, skipped, ...historyOf(h) };
    }
    return { name, kind: 'files', files, skipped };
  }
  const name = basename(spec);
  const bytes = await readRegularFile(spec, archiveKind(name) ? MAX_TOTAL : MAX_FILE);
  if (archiveKind(name)) {
    const a = await readArchive(name, bytes);
    return { name, kind: 'archive', files: a.files, skipped: a.skipped };
  }
  return { name, kind: 'files', files: [{ path: name, bytes }], skipped: [] };
}
