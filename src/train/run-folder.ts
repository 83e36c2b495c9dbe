// Where runs keep their files (run.json, the dataset, checkpoints): a tiny file-tree
// interface, on OPFS in the browser (opfs-run-folder.ts) and on disk in Node
// (node-run-folder.ts). Paths use '/'.
export interface RunFolder {
  read(path: string): Promise<Uint8Array | undefined>;
  /** Replaces the file as a whole (a reader never sees half a file). */
  write(path: string, bytes: Uint8Array): Promise<void>;
  /** Names directly under `dir` ('' = the root); [] when it does not exist. */
  list(dir: string): Promise<string[]>;
  /** Removes a file or a folder with everything in it. */
  remove(path: string): Promise<void>;
}

/** The same folder seen from `prefix` down. */
export function subFolder(f: RunFolder, prefix: string): RunFolder {
  const p = (path: string) => (path ? `${prefix}/${path}` : prefix);
  return { read: (x) => f.read(p(x)), write: (x, b) => f.write(p(x), b), list: (x) => f.list(p(x)), remove: (x) => f.remove(p(x)) };
}

export async function readJsonFile<T>(f: RunFolder, path: string): Promise<T | undefined> {
  const b = await f.read(path);
  return b ? (JSON.parse(new TextDecoder().decode(b)) as T) : undefined;
}

export function writeJsonFile(f: RunFolder, path: string, value: unknown): Promise<void> {
  return f.write(path, new TextEncoder().encode(JSON.stringify(value)));
}

/** A folder in memory (unit tests, and a run nobody needs to keep). */
export function memoryRunFolder(): RunFolder {
  const files = new Map<string, Uint8Array>();
  return {
    read: async (p) => files.get(p),
    write: async (p, b) => void files.set(p, b.slice()),
    list: async (dir) => {
      const pre = dir ? `${dir}/` : '';
      const names = new Set<string>();
      for (const k of files.keys()) if (k.startsWith(pre)) names.add(k.slice(pre.length).split('/')[0]);
      return [...names];
    },
    remove: async (p) => {
      for (const k of [...files.keys()]) if (k === p || k.startsWith(`${p}/`)) files.delete(k);
    },
  };
}
