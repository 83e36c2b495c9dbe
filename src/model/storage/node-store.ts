// A ModelStore on disk (Node: the CLI and tests).
import { mkdir, open, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeFiles } from './node-files.ts';
import type { Manifest, ModelFolder, ModelStore } from './store.ts';

const MANIFEST = 'homecoder.json';

function folderAt(dir: string): ModelFolder {
  const path = (name: string) => join(dir, name);
  return {
    size: async (name) => (await stat(path(name)).catch(() => undefined))?.size ?? 0,
    async writer(name, from) {
      const fh = await open(path(name), 'a+');
      await fh.close();
      await truncate(path(name), from);
      const w = await open(path(name), 'r+');
      let pos = from;
      return {
        write: async (chunk) => {
          await w.write(chunk, 0, chunk.byteLength, pos);
          pos += chunk.byteLength;
        },
        close: () => w.close(),
      };
    },
    async *chunks(name, chunkSize = 8 << 20) {
      const fh = await open(path(name), 'r');
      try {
        for (;;) {
          const buf = new Uint8Array(chunkSize);
          const { bytesRead } = await fh.read(buf, 0, chunkSize);
          if (!bytesRead) break;
          yield buf.subarray(0, bytesRead);
        }
      } finally {
        await fh.close();
      }
    },
    remove: (name) => rm(path(name), { force: true }),
    readManifest: async () => {
      const text = await readFile(path(MANIFEST), 'utf8').catch(() => undefined);
      return text ? (JSON.parse(text) as Manifest) : undefined;
    },
    writeManifest: (m) => writeFile(path(MANIFEST), JSON.stringify(m, null, 2)),
    files: () => nodeFiles(dir),
  };
}

export function nodeStore(root: string): ModelStore {
  return {
    async folder(id) {
      await mkdir(join(root, id), { recursive: true });
      return folderAt(join(root, id));
    },
    async list() {
      const out: Manifest[] = [];
      for (const e of await readdir(root, { withFileTypes: true }).catch(() => [])) {
        if (!e.isDirectory()) continue;
        const m = await folderAt(join(root, e.name)).readManifest();
        if (m) out.push(m);
      }
      return out;
    },
    remove: (id) => rm(join(root, id), { recursive: true, force: true }),
  };
}
