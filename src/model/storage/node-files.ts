// A model folder on disk (Node only: the CLI and tests).
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ByteSource, ModelFiles } from './files.ts';

export function nodeFiles(dir: string): ModelFiles {
  return {
    label: dir,
    list: async () => (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name),
    open: async (name): Promise<ByteSource | undefined> => {
      // Only files directly in the folder: a name with a path in it never leaves it.
      if (/[/\\]/.test(name) || name === '..' || name === '.') return undefined;
      const path = join(dir, name);
      let size: number;
      try {
        const st = await stat(path);
        if (!st.isFile()) return undefined;
        size = st.size;
      } catch {
        return undefined;
      }
      return {
        name,
        size,
        read: async (offset, length) => {
          const fh = await open(path, 'r');
          try {
            const buf = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
            let done = 0;
            while (done < buf.length) {
              const { bytesRead } = await fh.read(buf, done, buf.length - done, offset + done);
              if (bytesRead === 0) break;
              done += bytesRead;
            }
            return buf.subarray(0, done);
          } finally {
            await fh.close();
          }
        },
      };
    },
  };
}
