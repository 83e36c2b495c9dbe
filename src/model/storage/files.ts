// Where model bytes come from: a folder in Node, File/Blob objects or OPFS in the
// browser, or memory in tests. Readers take byte ranges so a multi-GB shard is never
// read whole.
import { ModelError } from '../errors.ts';

export interface ByteSource {
  name: string;
  size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export interface ModelFiles {
  /** A label for messages (a folder path, "dropped files", ...). */
  label: string;
  list(): Promise<string[]>;
  open(name: string): Promise<ByteSource | undefined>;
}

export function blobSource(name: string, blob: Blob): ByteSource {
  return {
    name,
    size: blob.size,
    read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  };
}

export function bytesSource(name: string, bytes: Uint8Array): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    read: async (offset, length) => bytes.subarray(offset, Math.min(offset + length, bytes.byteLength)),
  };
}

/** Files by name (File objects from a picker or drop, or Blobs from OPFS). */
export function blobFiles(label: string, files: Map<string, Blob>): ModelFiles {
  return {
    label,
    list: async () => [...files.keys()],
    open: async (name) => {
      const b = files.get(name);
      return b ? blobSource(name, b) : undefined;
    },
  };
}

export function memoryFiles(label: string, files: Map<string, Uint8Array>): ModelFiles {
  return {
    label,
    list: async () => [...files.keys()],
    open: async (name) => {
      const b = files.get(name);
      return b ? bytesSource(name, b) : undefined;
    },
  };
}

export async function readAll(src: ByteSource): Promise<Uint8Array> {
  return src.read(0, src.size);
}

export async function readJson<T>(files: ModelFiles, name: string): Promise<T> {
  const src = await files.open(name);
  if (!src)
    throw new ModelError(
      'MISSING_FILE',
      `${name} is missing from ${files.label}. A Hugging Face model folder holds config.json, tokenizer.json and model.safetensors.`,
      { file: name },
    );
  const text = new TextDecoder().decode(await readAll(src));
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new ModelError('BAD_CONFIG', `${name} in ${files.label} is not valid JSON (${(err as Error).message}). Download it again.`, {
      file: name,
    });
  }
}
