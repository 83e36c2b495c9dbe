// The key/value cache of a decoding session: per layer, K and V for every position
// [positions, nKv·headDim] (after RoPE for K), in f16 where the device has shader-f16
// (half the memory and half the bytes cached attention reads per token; attention still
// computes in f32) and in f32 otherwise or when asked. A chunk's keys and values are
// written at their positions by a small copy kernel (binding offsets would need 256-byte
// alignment, which a position's row rarely has); the f16 copy rounds to nearest.
import type { ModelConfig } from '../model/types.ts';
import type { GpuMemory } from './memory.ts';
import { FLAT_BUILTINS, flatIndex, grid1d, params, u32, type KernelRunner } from './kernel.ts';

const WG = 256;
const copy = (dst: 'f32' | 'f16') => /* wgsl */ `
${dst === 'f16' ? 'enable f16;' : ''}
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<${dst}>;
struct P { n: u32, srcOff: u32, dstOff: u32 }
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(${WG}) fn main(${FLAT_BUILTINS}) {
  let i = ${flatIndex(WG)};
  if (i < p.n) { dst[p.dstOff + i] = ${dst}(src[p.srcOff + i]); }
}`;
const COPY = { f32: copy('f32'), f16: copy('f16') };

export type KvDtype = 'f32' | 'f16';

/** dst[dstOff .. +n) = src[srcOff .. +n) (offsets in elements; dst f32 or f16). */
export function copyRange(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  src: GPUBuffer,
  srcOff: number,
  dst: GPUBuffer,
  dstOff: number,
  n: number,
  dstType: KvDtype = 'f32',
): void {
  runner.dispatch(
    pass,
    runner.pipeline(COPY[dstType], `copy_range_${dstType}`),
    [src, dst],
    params(u32(n), u32(srcOff), u32(dstOff)),
    grid1d(n, WG),
  );
}

/** Bytes a cache of `positions` takes (for the planner and the UI). */
export function kvCacheBytes(c: ModelConfig, positions: number, dtype: KvDtype = 'f32'): number {
  return 2 * c.numLayers * positions * c.numKvHeads * c.headDim * (dtype === 'f16' ? 2 : 4);
}

export class KvCache {
  readonly k: GPUBuffer[] = [];
  readonly v: GPUBuffer[] = [];
  readonly rowFloats: number;

  constructor(
    private memory: GpuMemory,
    config: ModelConfig,
    readonly positions: number,
    readonly dtype: KvDtype = 'f32',
  ) {
    this.rowFloats = config.numKvHeads * config.headDim;
    // Whole 4-byte words: an odd f16 row count would leave a binding of 2 bytes too many.
    const bytes = Math.ceil((positions * this.rowFloats * (dtype === 'f16' ? 2 : 4)) / 4) * 4;
    for (let l = 0; l < config.numLayers; l++) {
      this.k.push(memory.buffer('activations', bytes, `kv.${l}.k`));
      this.v.push(memory.buffer('activations', bytes, `kv.${l}.v`));
    }
  }

  /** Records the writes of a chunk's [T, nKv·hd] keys and values at positions pos0.. of layer l. */
  write(runner: KernelRunner, pass: GPUComputePassEncoder, l: number, k: GPUBuffer, v: GPUBuffer, pos0: number, T: number): void {
    if (pos0 + T > this.positions) throw new RangeError(`the KV cache holds ${this.positions} positions, need ${pos0 + T}`);
    copyRange(runner, pass, k, 0, this.k[l], pos0 * this.rowFloats, T * this.rowFloats, this.dtype);
    copyRange(runner, pass, v, 0, this.v[l], pos0 * this.rowFloats, T * this.rowFloats, this.dtype);
  }

  destroy(): void {
    for (const b of [...this.k, ...this.v]) this.memory.release(b);
    this.k.length = 0;
    this.v.length = 0;
  }
}
