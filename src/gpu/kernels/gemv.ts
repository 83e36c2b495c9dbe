// Matrix–vector product for decoding one token: y = x·Wᵀ (+ b) with 16-bit W [out, in].
// Decode is memory-bound, so each weight is read exactly once. A workgroup of 64 threads
// covers R rows with 64/R threads per row: the threads of a row read consecutive words (two
// weights each) and reduce in shared memory. Threads per row follow the row length (about
// 16 words per thread, at most 64 threads): long rows get a whole workgroup, short rows
// (a 64-wide LM head over 150k tokens) share one, which keeps the workgroup count and the
// reduction steps low.
// That version runs everywhere; GEMV_VERSIONS adds a subgroup one (gemv-subgroup.ts).
import { params, u32, grid1d, wgslUnpack2, type KernelRunner } from '../kernel.ts';
import type { KernelVersion } from '../kernel-versions.ts';
import type { WeightChunk, WeightTensor } from '../weights.ts';
import { GEMV_SUBGROUP } from './gemv-subgroup.ts';

const WG = 64;

const gemv = (dtype: 'bf16' | 'f16', tpr: number) => /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
struct P { K: u32, rows: u32, yCol0: u32, flags: u32, xOff: u32 }
@group(0) @binding(4) var<uniform> p: P;
${wgslUnpack2(dtype)}
const TPR: u32 = ${tpr}u;
var<workgroup> red: array<f32, ${WG}>;
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let lane = lid.x % TPR;
  let o = (wg.y * nwg.x + wg.x) * (${WG}u / TPR) + lid.x / TPR;
  let words = p.K / 2u;
  let row = min(o, p.rows - 1u) * words;
  var acc = 0.0;
  for (var kw = lane; kw < words; kw += TPR) {
    let wv = unpack2(w[row + kw]);
    acc += x[p.xOff + 2u * kw] * wv.x + x[p.xOff + 2u * kw + 1u] * wv.y;
  }
  red[lid.x] = acc;
  workgroupBarrier();
  for (var s = TPR / 2u; s > 0u; s >>= 1u) {
    if (lane < s) { red[lid.x] = red[lid.x] + red[lid.x + s]; }
    workgroupBarrier();
  }
  if (lane == 0u && o < p.rows) {
    var v = red[lid.x];
    if ((p.flags & 1u) != 0u) { v += b[p.yCol0 + o]; }
    let yi = p.yCol0 + o;
    if ((p.flags & 2u) != 0u) { v += y[yi]; }
    y[yi] = v;
  }
}`;

const codes = new Map<string, string>();

/** Threads per row for rows of `words` u32 words: about 16 words each, a power of two ≤ 64. */
export function threadsPerRow(words: number): number {
  let t = 1;
  while (t < WG && t * 16 < words) t *= 2;
  return t;
}

/** One chunk of one GEMV: y[chunk rows] (+)= x[xRow, :]·W_chunkᵀ (+ b). */
export interface GemvArgs {
  x: GPUBuffer;
  W: WeightTensor;
  chunk: WeightChunk;
  bias?: GPUBuffer;
  y: GPUBuffer;
  accumulate: boolean;
  xRow: number;
}

const GEMV_SHARED: KernelVersion<GemvArgs> = {
  op: 'gemv',
  name: 'gemv.shared',
  family: 'register',
  features: [],
  workgroupBytes: WG * 4,
  summary: '64-thread workgroups, 1–64 threads per row by row length, reduction in workgroup memory; any shape',
  supports: () => true,
  record(runner, pass, a) {
    const flags = (a.bias ? 1 : 0) | (a.accumulate ? 2 : 0);
    const tpr = threadsPerRow(a.W.cols / 2);
    const key = `${a.W.dtype}${tpr}`;
    let code = codes.get(key);
    if (!code) codes.set(key, (code = gemv(a.W.dtype, tpr)));
    runner.dispatch(
      pass,
      runner.pipeline(code, `gemv_${key}`),
      [a.x, a.chunk.buffer, a.bias ?? a.x, a.y],
      params(u32(a.W.cols), u32(a.chunk.rows), u32(a.chunk.rowStart), u32(flags), u32(a.xRow * a.W.cols)),
      grid1d(Math.ceil(a.chunk.rows / (WG / tpr)), 1),
    );
  },
};

/** Every version of the decode GEMV; the first is the fallback. */
export const GEMV_VERSIONS: readonly KernelVersion<GemvArgs>[] = [GEMV_SHARED, GEMV_SUBGROUP];

/**
 * y[0, :] (+)= x[xRow, :]·Wᵀ (+ b) over every chunk of W, for one token. `xRow` picks the
 * row of a [T, in] activation (e.g. the last token of a prefill).
 */
export function gemvForward(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  x: GPUBuffer,
  W: WeightTensor,
  bias: GPUBuffer | undefined,
  y: GPUBuffer,
  accumulate = false,
  xRow = 0,
): void {
  for (const chunk of W.chunks) {
    const a: GemvArgs = { x, W, chunk, bias, y, accumulate, xRow };
    runner.kernels.choose(GEMV_VERSIONS, { T: 1, K: W.cols, N: chunk.rows }, a).record(runner, pass, a);
  }
}
