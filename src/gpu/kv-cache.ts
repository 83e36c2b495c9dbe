// The key/value cache of a decoding session: per layer, K and V for every position
// [positions, nKv·headDim] (after RoPE for K), in f16 where the device has shader-f16
// (half the memory and half the bytes cached attention reads per token; attention still
// computes in f32) and in f32 otherwise or when asked. A chunk's keys and values are
// written at their positions by a small copy kernel (binding offsets would need 256-byte
// alignment, which a position's row rarely has), fused with RoPE; f16 stores round to nearest.
import type { ModelConfig } from '../model/types.ts';
import type { GpuMemory } from './memory.ts';
import { FLAT_BUILTINS, flatIndex, grid1d, params, u32, type KernelRunner } from './kernel.ts';
import type { RopeTable } from './kernels/rope.ts';

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

// One dispatch for what took four (RoPE on q, RoPE on k, the k and v copies): per token,
// items [0, qPairs) rotate q in place, [qPairs, +kPairs) rotate k into the cache, the rest
// copy v into the cache. The rotation is rope.ts's (HF rotate_half, float64-made table).
const ropeStore = (kv: KvDtype) => /* wgsl */ `
${kv === 'f16' ? 'enable f16;' : ''}
@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> kc: array<${kv}>;
@group(0) @binding(4) var<storage, read_write> vc: array<${kv}>;
@group(0) @binding(5) var<storage, read> table: array<f32>;
struct P { nHeads: u32, nKv: u32, half: u32, positions: u32, pos0: u32 }
@group(0) @binding(6) var<uniform> p: P;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  let t = g.y;
  let pos = p.pos0 + t;
  let hd = 2u * p.half;
  let qPairs = p.nHeads * p.half;
  let kPairs = p.nKv * p.half;
  let row = p.nKv * hd;
  var j = g.x;
  if (j >= qPairs + kPairs + row) { return; }
  if (j >= qPairs + kPairs) {
    j -= qPairs + kPairs;
    vc[pos * row + j] = ${kv}(v[t * row + j]);
    return;
  }
  let isK = j >= qPairs;
  if (isK) { j -= qPairs; }
  let i = j % p.half;
  let c = table[pos * p.half + i];
  let s = table[p.positions * p.half + pos * p.half + i];
  let base = (j / p.half) * hd + i;
  if (isK) {
    let a = k[t * row + base];
    let b = k[t * row + base + p.half];
    kc[pos * row + base] = ${kv}(a * c - b * s);
    kc[pos * row + base + p.half] = ${kv}(b * c + a * s);
  } else {
    let qb = t * p.nHeads * hd + base;
    let a = q[qb];
    let b = q[qb + p.half];
    q[qb] = a * c - b * s;
    q[qb + p.half] = b * c + a * s;
  }
}`;
const ROPE_STORE = { f32: ropeStore('f32'), f16: ropeStore('f16') };

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

  /**
   * Records RoPE on a chunk's queries [T, nHeads·hd] (in place) and keys, and the writes of
   * the rotated keys and the values [T, nKv·hd] at positions pos0.. of layer l: one dispatch.
   */
  ropeAndWrite(
    runner: KernelRunner,
    pass: GPUComputePassEncoder,
    l: number,
    q: GPUBuffer,
    k: GPUBuffer,
    v: GPUBuffer,
    rope: RopeTable,
    nHeads: number,
    pos0: number,
    T: number,
  ): void {
    if (pos0 + T > this.positions) throw new RangeError(`the KV cache holds ${this.positions} positions, need ${pos0 + T}`);
    if (pos0 + T > rope.positions) throw new RangeError(`RoPE table covers ${rope.positions} positions, need ${pos0 + T}`);
    const nKv = this.rowFloats / (2 * rope.half);
    const items = (nHeads + nKv) * rope.half + this.rowFloats;
    runner.dispatch(
      pass,
      runner.pipeline(ROPE_STORE[this.dtype], `rope_kv_${this.dtype}`),
      [q, k, v, this.k[l], this.v[l], rope.buffer],
      params(u32(nHeads), u32(nKv), u32(rope.half), u32(rope.positions), u32(pos0)),
      [Math.ceil(items / 64), T],
    );
  }

  destroy(): void {
    for (const b of [...this.k, ...this.v]) this.memory.release(b);
    this.k.length = 0;
    this.v.length = 0;
  }
}
