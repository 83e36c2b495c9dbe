// The tuner's choices in Node: one JSON file in the user's cache folder
// ($XDG_CACHE_HOME/homecoder/kernels.json, else ~/.cache/homecoder/kernels.json),
// adapter key → { shape key → version name }.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { KernelPicks } from '../gpu/kernel-versions.ts';
import type { TuneStore } from '../gpu/tune-store.ts';

export function defaultTuneCachePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'homecoder', 'kernels.json');
}

export function fileTuneStore(path = defaultTuneCachePath()): TuneStore & { path: string } {
  const readAll = async (): Promise<Record<string, KernelPicks>> => {
    try {
      return JSON.parse(await readFile(path, 'utf8')) as Record<string, KernelPicks>;
    } catch {
      return {}; // no file yet, or a damaged one: tuning again rewrites it
    }
  };
  return {
    path,
    async load(key) {
      return (await readAll())[key];
    },
    async save(key, picks) {
      const all = await readAll();
      all[key] = picks;
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, `${JSON.stringify(all, null, 2)}\n`);
      await rename(tmp, path); // never a half-written file
    },
  };
}
