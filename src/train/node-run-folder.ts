// A RunFolder on disk (Node: the CLI and tests). Writes go to a temporary file first.
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { RunFolder } from './run-folder.ts';

export function nodeRunFolder(root: string): RunFolder {
  const at = (p: string) => join(root, ...p.split('/').filter(Boolean));
  return {
    read: async (p) => {
      try {
        return new Uint8Array(await readFile(at(p)));
      } catch {
        return undefined;
      }
    },
    write: async (p, bytes) => {
      await mkdir(dirname(at(p)), { recursive: true });
      const tmp = `${at(p)}.tmp-${process.pid}`;
      await writeFile(tmp, bytes);
      await rename(tmp, at(p));
    },
    list: async (dir) => (await readdir(at(dir)).catch(() => [] as string[])).filter((n) => !n.includes('.tmp-')),
    remove: (p) => rm(at(p), { recursive: true, force: true }),
  };
}
