// The key/value cache of a decoding session: per layer, K and V for every position
// [positions, nKv·headDim] in f32 (after RoPE for K). A chunk's keys and values are
// written at their positions by a small copy kernel (binding offsets would need 256-byte
// alignment, which a position's row rarely has).
import type { ModelConfig } from '../model/types.ts';
import type { GpuMemory } from './memory.ts';
import { FLAT_BUILTINS, flatIndex, grid1d, params, u32, type KernelRunner } from './kernel.ts';

const WG = 256;
const COPY = /* wgsl */ `
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
struct P { n: u32, srcOff: u32, dstOff: u32 }
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(${WG}) fn main(${FLAT_BUILTINS}) {
  let i = ${flatIndex(WG)};
  if (i < p.n) { dst[p.dstOff + i] = src[p.srcOff + i]; }
}`;

/** dst[dstOff .. +n) = src[srcOff .. +n) (offsets in floats). */
export function copyRange(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  src: GPUBuffer,
  srcOff: number,
  dst: GPUBuffer,
  dstOff: number,
  n: number,
): void {
  runner.dispatch(pass, runner.pipeline(COPY, 'copy_range'), [src, dst], params(u32(n), u32(srcOff), u32(dstOff)), grid1d(n, WG));
}

/** Bytes a cache of `positions` takes (for the planner and the UI). */
export function kvCacheBytes(c: ModelConfig, positions: number): number {
  return 2 * c.numLayers * positions * c.numKvHeads * c.headDim * 4;
}

export class KvCache {
  readonly k: GPUBuffer[] = [];
  readonly v: GPUBuffer[] = [];
  readonly rowFloats: number;

  constructor(
    private memory: GpuMemory,
    config: ModelConfig,
    readonly positions: number,
  ) {
    this.rowFloats = config.numKvHeads * config.headDim;
    for (let l = 0; l < config.numLayers; l++) {
      this.k.push(memory.buffer('activations', positions * this.rowFloats * 4, `kv.${l}.k`));
      this.v.push(memory.buffer('activations', positions * this.rowFloats * 4, `kv.${l}.v`));
    }
  }

  /** Records the writes of a chunk's [T, nKv·hd] keys and values at positions pos0.. of layer l. */
  write(runner: KernelRunner, pass: GPUComputePassEncoder, l: number, k: GPUBuffer, v: GPUBuffer, pos0: number, T: number): void {
    if (pos0 + T > this.positions) throw new RangeError(`the KV cache holds ${this.positions} positions, need ${pos0 + T}`);
    copyRange(runner, pass, k, 0, this.k[l], pos0 * this.rowFloats, T * this.rowFloats);
    copyRange(runner, pass, v, 0, this.v[l], pos0 * this.rowFloats, T * this.rowFloats);
  }

  destroy(): void {
    for (const b of [...this.k, ...this.v]) this.memory.release(b);
    this.k.length = 0;
    this.v.length = 0;
  }
}
