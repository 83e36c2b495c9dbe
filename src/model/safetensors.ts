// The safetensors format: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {...}}, then the
// data. Parsed here by hand and validated against the file size before any read.
import { ModelError } from './errors.ts';
import type { ByteSource } from './storage/files.ts';

export type SafetensorsDtype = 'BF16' | 'F16' | 'F32';
const DTYPE_BYTES: Record<SafetensorsDtype, number> = { BF16: 2, F16: 2, F32: 4 };
/** Largest header we accept: real headers are a few hundred KiB. */
const MAX_HEADER = 100 * 1024 * 1024;

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte offset of the data in the file. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  file: string;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

export async function readSafetensorsHeader(src: ByteSource): Promise<SafetensorsHeader> {
  const file = src.name;
  if (src.size < 8)
    throw new ModelError('TRUNCATED_FILE', `${file} is ${src.size} bytes: too short to be a safetensors file. Download it again.`, {
      file,
    });
  const lenBytes = await src.read(0, 8);
  const len = Number(new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true));
  if (len > MAX_HEADER || 8 + len > src.size) {
    throw new ModelError(
      8 + len > src.size && len <= MAX_HEADER ? 'TRUNCATED_FILE' : 'BAD_HEADER',
      `${file}: its header says ${len} bytes but the file has ${src.size}; the file is truncated or not safetensors. Download it again.`,
      { file },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(await src.read(8, len)));
  } catch (err) {
    throw new ModelError('BAD_HEADER', `${file}: the safetensors header is not valid JSON (${(err as Error).message}).`, { file });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new ModelError('BAD_HEADER', `${file}: the safetensors header is not a JSON object.`, { file });
  const dataStart = 8 + len;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (v ?? {}) as Record<string, string>;
      continue;
    }
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const bad = (why: string) => new ModelError('BAD_HEADER', `${file}: tensor ${name} ${why}.`, { file, tensor: name });
    if (typeof t?.dtype !== 'string') throw bad('has no dtype');
    if (!(t.dtype in DTYPE_BYTES)) {
      throw new ModelError(
        'UNKNOWN_DTYPE',
        `${file}: tensor ${name} has dtype ${t.dtype}; Homecoder reads BF16, F16 and F32 weights. Use an unquantised checkpoint.`,
        { file, tensor: name },
      );
    }
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad('has an invalid shape');
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[1] < off[0])
      throw bad('has invalid data_offsets');
    const dtype = t.dtype as SafetensorsDtype;
    const shape = t.shape as number[];
    const byteLength = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    if (off[1] - off[0] !== byteLength)
      throw bad(`has ${off[1] - off[0]} bytes of data, but shape [${shape}] of ${dtype} needs ${byteLength}`);
    if (dataStart + off[1] > src.size) {
      throw new ModelError(
        'TRUNCATED_FILE',
        `${file} is truncated: tensor ${name} ends at byte ${dataStart + off[1]} but the file has ${src.size}. Download it again.`,
        { file, tensor: name },
      );
    }
    tensors.set(name, { name, dtype, shape, offset: dataStart + off[0], byteLength });
  }
  // Two tensors sharing bytes would load one tensor's data as another's: refuse the file.
  const spans = [...tensors.values()].filter((t) => t.byteLength > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1];
    if (spans[i].offset < prev.offset + prev.byteLength)
      throw new ModelError(
        'BAD_HEADER',
        `${file}: tensors ${prev.name} and ${spans[i].name} overlap (their data_offsets share bytes); the file is corrupt. Download it again.`,
        { file, tensor: spans[i].name },
      );
  }
  return { file, tensors, metadata };
}

export async function readTensorBytes(src: ByteSource, info: TensorInfo): Promise<Uint8Array> {
  const bytes = await src.read(info.offset, info.byteLength);
  if (bytes.byteLength !== info.byteLength) {
    throw new ModelError(
      'TRUNCATED_FILE',
      `${src.name}: tensor ${info.name} could only be read in part (${bytes.byteLength} of ${info.byteLength} bytes). Download the file again.`,
      { file: src.name, tensor: info.name },
    );
  }
  return bytes;
}

export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  data: Uint8Array;
}

/** Serialises tensors (header padded with spaces to 8 bytes, as the reference writer does). */
export function writeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    if (n !== t.data.byteLength) throw new Error(`${t.name}: shape [${t.shape}] of ${t.dtype} needs ${n} bytes, got ${t.data.byteLength}`);
  }
  const head = safetensorsHeader(tensors, metadata);
  const out = new Uint8Array(head.byteLength + tensors.reduce((a, t) => a + t.data.byteLength, 0));
  out.set(head);
  let pos = head.byteLength;
  for (const t of tensors) {
    out.set(t.data, pos);
    pos += t.data.byteLength;
  }
  return out;
}

/** The bytes before the data (u64 length + JSON header, padded to 8): the tensors' data
 *  follows in this order. Lets a large file be written one tensor at a time. */
export function safetensorsHeader(
  tensors: Pick<TensorToWrite, 'name' | 'dtype' | 'shape'>[],
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  return out;
}
