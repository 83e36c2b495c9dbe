// Frozen 16-bit weight matrices on the GPU, split into row chunks so no binding exceeds
// the device's maxStorageBufferBindingSize (or a smaller limit tests force).
import type { HostTensor, WeightDtype } from '../model/types.ts';

export interface WeightChunk {
  buffer: GPUBuffer;
  rowStart: number;
  rows: number;
}

/** A row-major [rows, cols] matrix (HF Linear layout [out, in]), two values per u32 word. */
export interface WeightTensor {
  name: string;
  dtype: WeightDtype;
  rows: number;
  cols: number;
  chunks: WeightChunk[];
}

export function chunkRows(rows: number, cols: number, maxChunkBytes: number): number {
  const fit = Math.floor(maxChunkBytes / (cols * 2));
  if (fit >= rows) return rows;
  // Whole 64-row output tiles per chunk: the tiled GEMMs then take every chunk (the LM head's
  // input gradient runs over a chunk's rows, which they need in multiples of 8).
  return Math.max(1, fit >= 64 ? fit - (fit % 64) : fit);
}

export function uploadWeight(device: GPUDevice, host: HostTensor, maxChunkBytes: number, label = host.name): WeightTensor {
  if (host.shape.length !== 2) throw new Error(`${host.name}: expected a matrix, got shape [${host.shape}]`);
  const [rows, cols] = host.shape;
  // Two values per word: an odd row length would split a row's last value across words.
  if (cols % 2) throw new Error(`${host.name}: rows of odd length ${cols} are not supported`);
  const per = chunkRows(rows, cols, maxChunkBytes);
  const chunks: WeightChunk[] = [];
  for (let rowStart = 0; rowStart < rows; rowStart += per) {
    const n = Math.min(per, rows - rowStart);
    const data = host.data.subarray(rowStart * cols, (rowStart + n) * cols);
    const buffer = device.createBuffer({
      label: `${label}[${rowStart}:${rowStart + n}]`,
      size: data.byteLength,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC, // COPY_SRC: tests read weights back
    });
    device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    chunks.push({ buffer, rowStart, rows: n });
  }
  return { name: host.name, dtype: host.dtype, rows, cols, chunks };
}

export function weightBytes(w: WeightTensor): number {
  return w.chunks.reduce((s, c) => s + c.buffer.size, 0);
}

export function destroyWeight(w: WeightTensor): void {
  for (const c of w.chunks) c.buffer.destroy();
}
