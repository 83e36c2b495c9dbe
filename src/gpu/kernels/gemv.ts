// Matrix–vector product for decoding one token: y = x·Wᵀ (+ b) with 16-bit W [out, in].
// Decode is memory-bound, so each weight is read exactly once: one workgroup per output
// row, its threads split the row (two values per u32 word) and reduce in shared memory.
import { params, u32, grid1d, wgslUnpack2, wgslWorkgroupSum, type KernelRunner } from '../kernel.ts';
import type { WeightTensor } from '../weights.ts';

const WG = 64;

const gemv = (dtype: 'bf16' | 'f16') => /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
struct P { K: u32, rows: u32, yCol0: u32, flags: u32, xOff: u32 }
@group(0) @binding(4) var<uniform> p: P;
${wgslUnpack2(dtype)}
${wgslWorkgroupSum('f32', WG)}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let o = wg.y * nwg.x + wg.x;
  let words = p.K / 2u;
  let row = min(o, p.rows - 1u) * words;
  var acc = 0.0;
  for (var kw = lid.x; kw < words; kw += ${WG}u) {
    let wv = unpack2(w[row + kw]);
    acc += x[p.xOff + 2u * kw] * wv.x + x[p.xOff + 2u * kw + 1u] * wv.y;
  }
  let total = workgroupSum(acc, lid.x);
  if (lid.x == 0u && o < p.rows) {
    var v = total;
    if ((p.flags & 1u) != 0u) { v += b[p.yCol0 + o]; }
    let yi = p.yCol0 + o;
    if ((p.flags & 2u) != 0u) { v += y[yi]; }
    y[yi] = v;
  }
}`;

const GEMV = { bf16: gemv('bf16'), f16: gemv('f16') };

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
  const flags = (bias ? 1 : 0) | (accumulate ? 2 : 0);
  for (const c of W.chunks) {
    runner.dispatch(
      pass,
      runner.pipeline(GEMV[W.dtype], `gemv_${W.dtype}`),
      [x, c.buffer, bias ?? x, y],
      params(u32(W.cols), u32(c.rows), u32(c.rowStart), u32(flags), u32(xRow * W.cols)),
      grid1d(c.rows, 1),
    );
  }
}
