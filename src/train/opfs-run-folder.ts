// A RunFolder on the Origin Private File System (browser workers), under adapters/runs/:
// the Use page's adapter list (src/model/storage/adapter-store.ts) finds the checkpoints there.
import type { RunFolder } from './run-folder.ts';
import { ADAPTERS_DIR } from '../model/storage/adapter-store.ts';

type Dir = FileSystemDirectoryHandle & { keys(): AsyncIterable<string> };

async function dirAt(root: FileSystemDirectoryHandle, parts: string[], create: boolean): Promise<FileSystemDirectoryHandle | undefined> {
  let d = root;
  for (const p of parts) {
    try {
      d = await d.getDirectoryHandle(p, { create });
    } catch {
      return undefined;
    }
  }
  return d;
}

export async function opfsRunFolder(path = `${ADAPTERS_DIR}/runs`): Promise<RunFolder> {
  const split = (p: string) => p.split('/').filter(Boolean);
  const root = (await dirAt(await navigator.storage.getDirectory(), split(path), true))!;
  return {
    async read(p) {
      const parts = split(p);
      const d = await dirAt(root, parts.slice(0, -1), false);
      try {
        return d ? new Uint8Array(await (await (await d.getFileHandle(parts.at(-1)!)).getFile()).arrayBuffer()) : undefined;
      } catch {
        return undefined;
      }
    },
    async write(p, bytes) {
      const parts = split(p);
      const d = (await dirAt(root, parts.slice(0, -1), true))!;
      // createWritable writes to a swap file and replaces the file on close: all or nothing.
      const w = await (await d.getFileHandle(parts.at(-1)!, { create: true })).createWritable();
      await w.write(bytes as Uint8Array<ArrayBuffer>);
      await w.close();
    },
    async list(dir) {
      const d = await dirAt(root, split(dir), false);
      const out: string[] = [];
      if (d) for await (const k of (d as Dir).keys()) out.push(k);
      return out;
    },
    async remove(p) {
      const parts = split(p);
      const d = await dirAt(root, parts.slice(0, -1), false);
      await d?.removeEntry(parts.at(-1)!, { recursive: true }).catch(() => undefined);
    },
  };
}
