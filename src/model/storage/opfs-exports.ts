// Exports in browser storage: OPFS exports/<folder>/<file>, written through
// FileSystemWritableFileStream (on disk as it is written) and read back as disk-backed File
// objects for download.
import type { SinkFactory } from '../export/sink.ts';

export const EXPORTS_DIR = 'exports';

/** A folder of files in OPFS, each written through a FileSystemWritableFileStream. */
export async function opfsExportFolder(folder: string): Promise<{ open: SinkFactory; sizes: Map<string, number> }> {
  const root = await navigator.storage.getDirectory();
  const dir = await (await root.getDirectoryHandle(EXPORTS_DIR, { create: true })).getDirectoryHandle(folder, { create: true });
  const sizes = new Map<string, number>();
  return {
    sizes,
    open: async (name) => {
      const stream = await (await dir.getFileHandle(name, { create: true })).createWritable();
      sizes.set(name, 0);
      return {
        write: async (chunk) => {
          await stream.write(chunk as Uint8Array<ArrayBuffer>);
          sizes.set(name, (sizes.get(name) ?? 0) + chunk.byteLength);
        },
        close: () => stream.close(),
      };
    },
  };
}

/** An exported file as a File (disk-backed: a download does not read it into memory). */
export async function exportedFile(folder: string, name: string): Promise<File> {
  const root = await navigator.storage.getDirectory();
  const dir = await (await root.getDirectoryHandle(EXPORTS_DIR)).getDirectoryHandle(folder);
  return (await dir.getFileHandle(name)).getFile();
}

/** TypeScript's DOM types lack the async iteration Chrome has. */
type Listable = FileSystemDirectoryHandle & { entries(): AsyncIterable<[string, FileSystemHandle]> };

export interface StoredExport {
  folder: string;
  files: Array<{ name: string; bytes: number }>;
}

/** The exports in browser storage, newest first (folders are named by time). */
export async function listExports(): Promise<StoredExport[]> {
  const root = await navigator.storage.getDirectory();
  let dir: FileSystemDirectoryHandle;
  try {
    dir = await root.getDirectoryHandle(EXPORTS_DIR);
  } catch {
    return []; // nothing exported yet
  }
  const out: StoredExport[] = [];
  for await (const [folder, handle] of (dir as Listable).entries()) {
    if (handle.kind !== 'directory') continue;
    const files: StoredExport['files'] = [];
    for await (const [name, f] of (handle as Listable).entries())
      if (f.kind === 'file') files.push({ name, bytes: (await (f as FileSystemFileHandle).getFile()).size });
    out.push({ folder, files: files.sort((a, b) => (a.name < b.name ? -1 : 1)) });
  }
  return out.sort((a, b) => (a.folder < b.folder ? 1 : -1));
}

/** Deletes an export folder and its files. */
export async function removeExport(folder: string): Promise<void> {
  const root = await navigator.storage.getDirectory();
  await (await root.getDirectoryHandle(EXPORTS_DIR)).removeEntry(folder, { recursive: true });
}
