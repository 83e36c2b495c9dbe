// Embedding gather from a 16-bit, row-chunked table [V, H] into f32 rows [T, H].
// Frozen (no backward): only LoRA parameters are trained.
import { params, u32, wgslUnpack2, type KernelRunner } from '../kernel.ts';
import type { WeightTensor } from '../weights.ts';

const WG = 64;
const gather = (dtype: 'bf16' | 'f16') => /* wgsl */ `
@group(0) @binding(0) var<storage, read> ids: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
struct P { words: u32, rowStart: u32, rows: u32 }
@group(0) @binding(3) var<uniform> p: P;
${wgslUnpack2(dtype)}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) g: vec3u) {
  let t = g.y;
  let kw = g.x;
  if (kw >= p.words) { return; }
  let id = ids[t];
  // Each chunk writes only the rows it holds; ids outside every chunk were rejected on the CPU.
  if (id < p.rowStart || id >= p.rowStart + p.rows) { return; }
  let v = unpack2(table[(id - p.rowStart) * p.words + kw]);
  out[t * p.words * 2u + 2u * kw] = v.x;
  out[t * p.words * 2u + 2u * kw + 1u] = v.y;
}`;
const GATHER = { bf16: gather('bf16'), f16: gather('f16') };

/** out[t] = table[ids[t]] for t < T (ids: u32 [T]). */
export function embeddingForward(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  ids: GPUBuffer,
  table: WeightTensor,
  out: GPUBuffer,
  T: number,
): void {
  const words = table.cols / 2;
  for (const c of table.chunks) {
    runner.dispatch(
      pass,
      runner.pipeline(GATHER[table.dtype], 'embedding'),
      [ids, c.buffer, out],
      params(u32(words), u32(c.rowStart), u32(c.rows)),
      [Math.ceil(words / WG), T],
    );
  }
}
