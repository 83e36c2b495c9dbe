// A LoRA merged into a 16-bit weight for serving: W' = W + s·B·A (W [out, in] as stored,
// A [r, in] and B [out, r] in f32), written into a separate weight of the same shape and
// chunking. Always computed from the kept base W, never by subtracting an earlier merge, so
// swapping adapters does not accumulate rounding. One thread per word (two weights): r
// products each in f32, then rounded to nearest even into the base's format (bf16 or IEEE
// f16, with the same integer rounding as model/dtype.ts's floatToBf16/floatToF16; WGSL's
// own f32→f16 conversion leaves the rounding mode to the implementation). A weight whose
// delta is exactly zero keeps its bits (a zero B leaves the copy equal to the base).
import { FLAT_BUILTINS, flatIndex, f32, grid1d, params, u32, wgslUnpack2, type KernelRunner } from '../kernel.ts';
import type { WeightTensor } from '../weights.ts';

const WG = 64;

const ROUND_BF16 = /* wgsl */ `
fn round16(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  if ((b & 0x7f800000u) == 0x7f800000u && (b & 0x7fffffu) != 0u) { return ((b >> 16u) | 0x40u) & 0xffffu; }
  return ((b + 0x7fffu + ((b >> 16u) & 1u)) >> 16u) & 0xffffu;
}`;

const ROUND_F16 = /* wgsl */ `
fn round16(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let sign = (b >> 16u) & 0x8000u;
  let ex = i32((b >> 23u) & 0xffu);
  var mant = b & 0x7fffffu;
  if (ex == 255) { return sign | 0x7c00u | select(0u, 0x200u, mant != 0u); }
  var e = ex - 127 + 15;
  if (e >= 31) { return sign | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return sign; }
    mant = mant | 0x800000u;
    let shift = u32(14 - e);
    let half = 1u << (shift - 1u);
    var m = mant >> shift;
    let rest = mant & ((1u << shift) - 1u);
    if (rest > half || (rest == half && (m & 1u) == 1u)) { m = m + 1u; }
    return sign | m;
  }
  var m = mant >> 13u;
  let rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (m & 1u) == 1u)) {
    m = m + 1u;
    if (m == 0x400u) {
      m = 0u;
      e = e + 1;
      if (e >= 31) { return sign | 0x7c00u; }
    }
  }
  return sign | (u32(e) << 10u) | m;
}`;

const merge = (dtype: 'bf16' | 'f16') => /* wgsl */ `
@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;
struct P { cols: u32, rows: u32, rowStart: u32, r: u32, scale: f32 }
@group(0) @binding(4) var<uniform> p: P;
${wgslUnpack2(dtype)}
${dtype === 'bf16' ? ROUND_BF16 : ROUND_F16}
fn merged(bits: u32, w: f32, d: f32) -> u32 {
  if (d == 0.0) { return bits; }
  return round16(w + p.scale * d);
}
@compute @workgroup_size(${WG}) fn main(${FLAT_BUILTINS}) {
  let idx = ${flatIndex(WG)};
  let words = p.cols / 2u;
  if (idx >= p.rows * words) { return; }
  let o = p.rowStart + idx / words;
  let i = 2u * (idx % words);
  var d = vec2f(0.0);
  for (var j = 0u; j < p.r; j++) {
    let b = B[o * p.r + j];
    d += b * vec2f(A[j * p.cols + i], A[j * p.cols + i + 1u]);
  }
  let word = src[idx];
  let w = unpack2(word);
  dst[idx] = merged(word & 0xffffu, w.x, d.x) | (merged(word >> 16u, w.y, d.y) << 16u);
}`;

const codes = new Map<string, string>();

/** out = base + scale·B·A, chunk by chunk (`out` has `base`'s shape, dtype and chunks). */
export function loraMerge(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  base: WeightTensor,
  out: WeightTensor,
  A: GPUBuffer,
  B: GPUBuffer,
  r: number,
  scale: number,
): void {
  let code = codes.get(base.dtype);
  if (!code) codes.set(base.dtype, (code = merge(base.dtype)));
  const pipeline = runner.pipeline(code, `lora_merge_${base.dtype}`);
  base.chunks.forEach((chunk, c) => {
    runner.dispatch(
      pass,
      pipeline,
      [chunk.buffer, A, B, out.chunks[c].buffer],
      params(u32(base.cols), u32(chunk.rows), u32(chunk.rowStart), u32(r), f32(scale)),
      grid1d((chunk.rows * base.cols) / 2, WG),
    );
  });
}
