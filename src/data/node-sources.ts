// Node side of sources, for the CLI and training headless: a folder, a single file, an
// archive, or a git URL (cloned into a temporary folder with the same isomorphic-git code
// the browser uses), read into memory as SourceFiles.
import * as fs from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative, sep } from 'node:path';
import type { ProgressListener } from '../progress.ts';
import { SourceError } from './errors.ts';
import { archiveKind, readArchive } from './sources/archive.ts';
import { fetchHttpClient, gitClone, readCommitFiles } from './sources/git.ts';
import { parseRepoUrl } from './sources/git-url.ts';
import type { SourceFile, SourceKind } from './types.ts';

export interface LoadedSource {
  /** The name decisions carry as `source`: the URL, the archive's or folder's name. */
  name: string;
  kind: SourceKind;
  files: SourceFile[];
  skipped: Array<{ path: string; why: string }>;
  commit?: string;
}

export interface NodeSourceOptions {
  ref?: string;
  depth?: number;
  token?: string;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
}

async function walk(root: string, dir: string, out: SourceFile[], skipped: LoadedSource['skipped']): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, e.name);
    const path = relative(root, full).split(sep).join('/');
    if (e.isDirectory()) {
      if (e.name === '.git') continue; // the repository's own database, not its files
      await walk(root, full, out, skipped);
    } else if (e.isFile()) out.push({ path, bytes: new Uint8Array(await readFile(full)) });
    else skipped.push({ path, why: e.isSymbolicLink() ? 'a link' : 'a device, fifo or other special entry' });
  }
}

export async function loadNodeSource(spec: string, opts: NodeSourceOptions = {}): Promise<LoadedSource> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    const url = parseRepoUrl(spec);
    const dir = await mkdtemp(join(tmpdir(), 'homecoder-clone-'));
    try {
      const o = {
        fs,
        http: fetchHttpClient(opts.signal),
        dir,
        url: url.href,
        shownUrl: url.href,
        ref: opts.ref,
        depth: opts.depth,
        token: opts.token,
        signal: opts.signal,
        onProgress: opts.onProgress,
      };
      const commit = await gitClone(o);
      const files = await readCommitFiles(fs, dir, commit, opts);
      return { name: url.href, kind: 'git', files, skipped: [], commit };
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
    await walk(spec, spec, files, skipped);
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { name: basename(spec.replace(/[/\\]+$/, '')) || spec, kind: 'files', files, skipped };
  }
  const bytes = new Uint8Array(await readFile(spec));
  const name = basename(spec);
  if (archiveKind(name)) {
    const a = await readArchive(name, bytes);
    return { name, kind: 'archive', files: a.files, skipped: a.skipped };
  }
  return { name, kind: 'files', files: [{ path: name, bytes }], skipped: [] };
}
