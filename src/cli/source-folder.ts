// `homecoder train --source PATH` for a local folder: a minimal walker that reads text
// files as TrainingFiles. It stands in until the sources/filter stage (git, archives,
// URLs, stage-1 rules) provides accepted files in Node; swap readSourceFolder for it.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { TrainingFile } from '../data/training-file.ts';

const SKIP_DIRS = new Set(['node_modules', '__pycache__', 'dist', 'build', 'target', 'vendor']);
const MAX_BYTES = 512 * 1024;

export class SourceError extends Error {
  constructor(
    readonly code: 'NOT_FOUND' | 'UNSUPPORTED_SOURCE' | 'NO_FILES',
    message: string,
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

/** Text files under `root` (dot-folders, dependency folders, binaries and files over 512 KiB skipped). */
export async function readSourceFolder(source: string, opts: { testGlob?: RegExp } = {}): Promise<TrainingFile[]> {
  if (/^[a-z][\w+.-]*:\/\//i.test(source) || /\.(zip|tar|tgz|tar\.gz|tar\.bz2)$/i.test(source)) {
    throw new SourceError('UNSUPPORTED_SOURCE', `--source ${source}: git URLs and archives come with the sources import; for now give a local folder (unpack the archive or clone the repository first).`);
  }
  const root = resolve(source);
  const st = await stat(root).catch(() => undefined);
  if (!st?.isDirectory()) throw new SourceError('NOT_FOUND', `--source ${source} is not a folder.`);
  const files: TrainingFile[] = [];
  async function walk(dir: string): Promise<void> {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const full = join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) await walk(full);
      } else if (e.isFile()) {
        const bytes = await readFile(full);
        if (bytes.length === 0 || bytes.length > MAX_BYTES || bytes.subarray(0, 8192).includes(0)) continue;
        const path = relative(root, full).split('\\').join('/');
        files.push({ path, source: root, text: new TextDecoder().decode(bytes), test: opts.testGlob?.test(path) ?? false });
      }
    }
  }
  await walk(root);
  if (!files.length) throw new SourceError('NO_FILES', `--source ${source} holds no text files to train on.`);
  return files;
}
