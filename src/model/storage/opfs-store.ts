// The ModelStore in the browser: the Origin Private File System, one directory per model
// under models/. Writes go through sync access handles (dedicated workers only), so every
// chunk is on disk as soon as it is written and a reload loses nothing already fetched.
import { blobFiles } from './files.ts';
import type { FileWriter, Manifest, ModelFolder, ModelStore } from './store.ts';

const MANIFEST = 'homecoder.json';

interface SyncAccessHandle {
  write(buffer: ArrayBufferView, opts?: { at?: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}

async function fileSize(dir: FileSystemDirectoryHandle, name: string): Promise<number> {
  try {
    return (await (await dir.getFileHandle(name)).getFile()).size;
  } catch {
    return 0;
  }
}

function folderAt(dir: FileSystemDirectoryHandle): ModelFolder {
  return {
    size: (name) => fileSize(dir, name),
    async writer(name, from): Promise<FileWriter> {
      const fh = await dir.getFileHandle(name, { create: true });
      const handle = (await (
        fh as FileSystemFileHandle & { createSyncAccessHandle(): Promise<SyncAccessHandle> }
      ).createSyncAccessHandle()) as SyncAccessHandle;
      handle.truncate(from);
      let pos = from;
      return {
        write: async (chunk) => {
          pos += handle.write(chunk, { at: pos });
        },
        close: async () => {
          handle.flush();
          handle.close();
        },
      };
    },
    async *chunks(name, chunkSize = 8 << 20) {
      const file = await (await dir.getFileHandle(name)).getFile();
      for (let at = 0; at < file.size; at += chunkSize) yield new Uint8Array(await file.slice(at, at + chunkSize).arrayBuffer());
    },
    async remove(name) {
      await dir.removeEntry(name).catch(() => undefined);
    },
    async readManifest() {
      try {
        return JSON.parse(await (await (await dir.getFileHandle(MANIFEST)).getFile()).text()) as Manifest;
      } catch {
        return undefined;
      }
    },
    async writeManifest(m) {
      const w = await (await dir.getFileHandle(MANIFEST, { create: true })).createWritable();
      await w.write(JSON.stringify(m));
      await w.close();
    },
    files() {
      // Blobs are looked up when listed, so files written later are seen.
      return {
        label: `browser storage (${dir.name})`,
        list: async () => {
          const names: string[] = [];
          for await (const [n, h] of (
            dir as FileSystemDirectoryHandle & { entries(): AsyncIterable<[string, FileSystemHandle]> }
          ).entries())
            if (h.kind === 'file') names.push(n);
          return names;
        },
        open: async (name) => {
          try {
            const file = await (await dir.getFileHandle(name)).getFile();
            return blobFiles('', new Map([[name, file]])).open(name);
          } catch {
            return undefined;
          }
        },
      };
    },
  };
}

export async function opfsStore(): Promise<ModelStore> {
  const root = await navigator.storage.getDirectory();
  const models = await root.getDirectoryHandle('models', { create: true });
  return {
    folder: async (id) => folderAt(await models.getDirectoryHandle(id, { create: true })),
    async list() {
      const out: Manifest[] = [];
      for await (const [, h] of (
        models as FileSystemDirectoryHandle & { entries(): AsyncIterable<[string, FileSystemHandle]> }
      ).entries()) {
        if (h.kind !== 'directory') continue;
        const m = await folderAt(h as FileSystemDirectoryHandle).readManifest();
        if (m) out.push(m);
      }
      return out;
    },
    remove: (id) => models.removeEntry(id, { recursive: true }),
  };
}
