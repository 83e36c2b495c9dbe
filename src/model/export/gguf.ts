// The GGUF container (version 3, as llama.cpp's gguf.c and the gguf spec define it):
// "GGUF", version, tensor count, metadata count, the metadata key/values, the tensor infos
// (name, dims innermost first, ggml type, offset), padding to the alignment, then each
// tensor's data aligned. The header is built in memory (metadata and infos only); tensor
// data is produced one tensor at a time and written straight to the sink.
import type { ByteSink, ExportProgress } from './sink.ts';

/** ggml tensor types written here (ggml.h numbering). */
export const GGML_TYPE = { F32: 0, F16: 1, Q8_0: 8, Q4_K: 12 } as const;
export type GgmlType = (typeof GGML_TYPE)[keyof typeof GGML_TYPE];

/** Bytes of `n` elements of a type (Q8_0: blocks of 32 values, an f16 scale + 32 int8; Q4_K: 144 bytes per 256). */
export function ggmlBytes(type: GgmlType, n: number): number {
  if (type === GGML_TYPE.F32) return n * 4;
  if (type === GGML_TYPE.F16) return n * 2;
  if (type === GGML_TYPE.Q4_K) return (n / 256) * 144;
  return (n / 32) * 34;
}

/** llama_ftype values for general.file_type. */
export const FILE_TYPE = { ALL_F32: 0, MOSTLY_F16: 1, MOSTLY_Q8_0: 7, MOSTLY_Q4_K_S: 14 } as const;

export const GGUF_ALIGNMENT = 32;

/** A metadata value with its GGUF type (numbers are ambiguous, so the type is explicit). */
export type GgufValue =
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: string[] }
  | { type: 'i32[]'; value: ArrayLike<number> };

export const u32 = (value: number): GgufValue => ({ type: 'u32', value });
export const f32 = (value: number): GgufValue => ({ type: 'f32', value });
export const str = (value: string): GgufValue => ({ type: 'string', value });
export const bool = (value: boolean): GgufValue => ({ type: 'bool', value });

export interface GgufTensor {
  name: string;
  /** ggml order: innermost (contiguous) dimension first, i.e. HF's shape reversed. */
  dims: number[];
  type: GgmlType;
  /** The tensor's bytes, produced when it is written. */
  data(): Promise<Uint8Array>;
}

const VT = { UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10 } as const;

/** A growing little-endian byte buffer for the header. */
class Writer {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private readonly enc = new TextEncoder();

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number): void {
    this.room(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  u64(v: number): void {
    this.room(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  f32(v: number): void {
    this.room(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.length++] = v;
  }
  string(s: string): void {
    const b = this.enc.encode(s);
    this.u64(b.length);
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.room(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

function writeValue(w: Writer, v: GgufValue): void {
  switch (v.type) {
    case 'u32':
      w.u32(VT.UINT32);
      w.u32(v.value);
      return;
    case 'i32':
      w.u32(VT.INT32);
      w.i32(v.value);
      return;
    case 'f32':
      w.u32(VT.FLOAT32);
      w.f32(v.value);
      return;
    case 'bool':
      w.u32(VT.BOOL);
      w.u8(v.value ? 1 : 0);
      return;
    case 'string':
      w.u32(VT.STRING);
      w.string(v.value);
      return;
    case 'string[]':
      w.u32(VT.ARRAY);
      w.u32(VT.STRING);
      w.u64(v.value.length);
      for (const s of v.value) w.string(s);
      return;
    case 'i32[]':
      w.u32(VT.ARRAY);
      w.u32(VT.INT32);
      w.u64(v.value.length);
      for (let i = 0; i < v.value.length; i++) w.i32(v.value[i]);
      return;
  }
}

const elements = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/** Total bytes the file will have (for progress and for checking space before writing). */
export function ggufSize(metadata: Map<string, GgufValue>, tensors: GgufTensor[]): number {
  return ggufHeader(metadata, tensors).header.length + tensorBytes(tensors);
}

function tensorBytes(tensors: GgufTensor[]): number {
  let n = 0;
  for (const t of tensors) n += Math.ceil(ggmlBytes(t.type, elements(t.dims)) / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
  return n;
}

function ggufHeader(metadata: Map<string, GgufValue>, tensors: GgufTensor[]): { header: Uint8Array } {
  const w = new Writer();
  w.u32(0x46554747); // "GGUF"
  w.u32(3);
  w.u64(tensors.length);
  w.u64(metadata.size);
  for (const [key, value] of metadata) {
    w.string(key);
    writeValue(w, value);
  }
  let offset = 0;
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(offset);
    offset += Math.ceil(ggmlBytes(t.type, elements(t.dims)) / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
  }
  w.pad(GGUF_ALIGNMENT);
  return { header: w.bytes() };
}

/** Writes a GGUF file to the sink, one tensor in memory at a time; returns its size. */
export async function writeGguf(
  sink: ByteSink,
  metadata: Map<string, GgufValue>,
  tensors: GgufTensor[],
  progress?: ExportProgress,
): Promise<number> {
  const { header } = ggufHeader(metadata, tensors);
  const total = header.length + tensorBytes(tensors);
  try {
    await sink.write(header);
    let done = header.length;
    progress?.(done, total, 'header');
    for (const t of tensors) {
      const data = await t.data();
      const want = ggmlBytes(t.type, elements(t.dims));
      if (data.byteLength !== want) throw new Error(`${t.name}: ${data.byteLength} bytes produced, ${want} expected`);
      await sink.write(data);
      const pad = (GGUF_ALIGNMENT - (want % GGUF_ALIGNMENT)) % GGUF_ALIGNMENT;
      if (pad) await sink.write(new Uint8Array(pad));
      done += want + pad;
      progress?.(done, total, t.name);
    }
  } catch (err) {
    // Cancelled or failed: the file handle is released (the partial file stays, named as the export).
    await sink.close().catch(() => {});
    throw err;
  }
  await sink.close();
  return total;
}
