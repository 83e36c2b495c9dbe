// What a drop on the page holds: files and whole folders (walked through the entries API).
export interface DroppedFile {
  path: string;
  file: File;
}

function readEntries(dir: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = dir.createReader();
  const all: FileSystemEntry[] = [];
  return new Promise((resolve, reject) => {
    const next = () =>
      reader.readEntries((batch) => {
        if (!batch.length) return resolve(all);
        all.push(...batch);
        next();
      }, reject);
    next();
  });
}

async function walk(entry: FileSystemEntry, prefix: string, out: DroppedFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej));
    out.push({ path: prefix + entry.name, file });
  } else if (entry.isDirectory) {
    for (const e of await readEntries(entry as FileSystemDirectoryEntry)) await walk(e, `${prefix}${entry.name}/`, out);
  }
}

/** Top-level items of a drop: each a single file, or a folder with its files (paths inside it). */
export async function droppedItems(dt: DataTransfer): Promise<Array<{ name: string; folder: boolean; files: DroppedFile[] }>> {
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  const out = [];
  for (const e of entries) {
    const files: DroppedFile[] = [];
    await walk(e, '', files);
    out.push({
      name: e.name,
      folder: e.isDirectory,
      files: e.isDirectory ? files.map((f) => ({ ...f, path: f.path.slice(e.name.length + 1) })) : files,
    });
  }
  return out;
}
