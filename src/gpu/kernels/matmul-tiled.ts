// Workgroup-memory tiled GEMM with 16-bit weights, for real GPUs:
//   C[t, n] (+)= Σ_k A[t, k]·B[k, n] (+ bias[n])
// linear forward: A = x [T, K], B = Wᵀ (W [N, K] row-major, "nk");
// input gradient: A = dy [T, rows], B = W (W [rows, K], "kn"), C = dx [T, K].
//
// Roofline: a 64×64 output tile with a 32-deep K tile moves 64·32·4 B of A (f32) and
// 64·32·2 B of W (16-bit) from memory for 2·64·64·32 FLOPs: ≈ 21 FLOP/byte, above the
// ~10 FLOP/byte ridge point of laptop GPUs, so the kernel can be compute-bound where the
// register-blocked version (4×4 per thread straight from memory, ≈ 2.7 FLOP/byte) is
// bandwidth-bound. 256 threads each keep a 4×4 register sub-tile; A is read as vec4f and W
// as vec4<u32> (8 weights, 16 bytes), unpacked once per tile into workgroup memory. Tiles
// are zero-padded at ragged edges, so the inner loop has no bounds checks.
// The f16 version (shader-f16) keeps both tiles as f16 in workgroup memory (half the
// bytes: 8 KB instead of 16 KB), multiplies pairs of f16 and accumulates in f32.
// Epilogues (each a compiled variant): LoRA's s·xa·Bᵀ (forward) or s·(g·A)∘mask (input
// gradient) and a residual input, read per output from memory in f32 in every version:
// r ≤ 64 extra FMAs per output against K ≥ 896 of the GEMM, and no extra pass over y.
import { params, u32 } from '../kernel.ts';
import type { KernelVersion } from '../kernel-versions.ts';
import type { LinearArgs, LinearDxArgs } from './linear.ts';
import {
  checkPair,
  forwardEpilogueBuffers,
  forwardLoraTerm,
  forwardResidualTerm,
  pairBuffers,
  wgslForwardEpilogue,
  type Epilogue,
} from './epilogue.ts';
import { LORA_EPILOGUE_FIELDS, loraEpilogueBuffers, loraEpilogueWords, wgslLoraEpilogue, wgslLoraUpPair } from './lora.ts';

const TM = 64;
const TN = 64;
const BK = 32;

type Layout = 'nk' | 'kn';

function tiledGemm(dtype: 'bf16' | 'f16', layout: Layout, half: boolean, e: Epilogue): string {
  const F = half ? 'f16' : 'f32';
  // Eight weights from a vec4<u32> as two vec4s of the tile's element type.
  const unpack =
    dtype === 'f16' && half
      ? `fn unpack8(w: vec4u) -> array<vec4<f16>, 2> {
  let a = bitcast<vec2<f16>>(w.x); let b = bitcast<vec2<f16>>(w.y); let c = bitcast<vec2<f16>>(w.z); let d = bitcast<vec2<f16>>(w.w);
  return array<vec4<f16>, 2>(vec4<f16>(a, b), vec4<f16>(c, d));
}`
      : `fn u2(w: u32) -> vec2f { ${dtype === 'bf16' ? 'return vec2f(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u));' : 'return unpack2x16float(w);'} }
fn unpack8(w: vec4u) -> array<vec4<${F}>, 2> {
  return array<vec4<${F}>, 2>(vec4<${F}>(vec4f(u2(w.x), u2(w.y))), vec4<${F}>(vec4f(u2(w.z), u2(w.w))));
}`;
  const loadB =
    layout === 'nk'
      ? // 64 rows n × 32 k: four vec4u per row; thread li: row li/4, k (li%4)·8.
        `{
    let n = li / 4u;
    let kk = (li % 4u) * 8u;
    var v = array<vec4<${F}>, 2>(vec4<${F}>(), vec4<${F}>());
    if (nBase + n < p.N && k0 + kk < p.R) {
      let wi = ((p.wRow0 + nBase + n) * p.wWords + (k0 + kk) / 2u) / 4u;
      ${e.pair ? 'if (second) { v = unpack8(wp[wi]); } else { v = unpack8(w[wi]); }' : 'v = unpack8(w[wi]);'}
    }
    for (var j = 0u; j < 8u; j++) { tb[(kk + j) * ${TN / 4}u + n / 4u][n % 4u] = v[j / 4u][j % 4u]; }
  }`
      : // 32 rows k × 64 n: eight vec4u per row; thread li: row li/8, n (li%8)·8.
        `{
    let kk = li / 8u;
    let nn = (li % 8u) * 8u;
    var v = array<vec4<${F}>, 2>(vec4<${F}>(), vec4<${F}>());
    if (k0 + kk < p.R && nBase + nn < p.N) { v = unpack8(w[((p.wRow0 + k0 + kk) * p.wWords + (nBase + nn) / 2u) / 4u]); }
    tb[kk * ${TN / 4}u + nn / 4u] = v[0];
    tb[kk * ${TN / 4}u + nn / 4u + 1u] = v[1];
  }`;
  // Two k per step: the f16 version adds two f16 products before widening to f32.
  const step = half
    ? `for (var i = 0u; i < 4u; i++) { acc[i] += vec4f(a0[i] * b0 + a1[i] * b1); }`
    : `for (var i = 0u; i < 4u; i++) { acc[i] += a0[i] * b0 + a1[i] * b1; }`;
  // nk is the forward (LoRA up-product, residual); kn the input gradient (LoRA down-product).
  // A pair (forward only: gate and up) drops the bias binding and adds a second weight,
  // output and LoRA B, picked by workgroup column (8 storage bindings at most).
  const first = e.pair ? 3 : 4;
  const [epi, next] = layout === 'nk' ? wgslForwardEpilogue(e, first) : e.lora ? [wgslLoraEpilogue('down', 4), 6] : ['', 4];
  const pairBindings = e.pair
    ? `@group(0) @binding(${next}) var<storage, read> wp: array<vec4u>;
@group(0) @binding(${next + 1}) var<storage, read_write> cp: array<f32>;
${e.lora ? wgslLoraUpPair(next + 2) : ''}`
    : '';
  const uniform = next + (e.pair ? (e.lora ? 3 : 2) : 0);
  const before = layout === 'nk' ? forwardResidualTerm(e, 'ci') : '';
  const after = layout === 'nk' ? forwardLoraTerm(e, 't', 'n') : e.lora ? 'v += loraTerm(t, n);' : '';
  return /* wgsl */ `${half ? 'enable f16;\n' : ''}
@group(0) @binding(0) var<storage, read> a: array<vec4f>;
@group(0) @binding(1) var<storage, read> w: array<vec4u>;
${e.pair ? '' : '@group(0) @binding(2) var<storage, read> bias: array<f32>;'}
@group(0) @binding(${first - 1}) var<storage, read_write> c: array<f32>;
struct P { M: u32, N: u32, R: u32, aStride: u32, aCol0: u32, wRow0: u32, wWords: u32, cStride: u32, cCol0: u32, bias0: u32, flags: u32, ${LORA_EPILOGUE_FIELDS} }
${epi}
${pairBindings}
@group(0) @binding(${uniform}) var<uniform> p: P;
${unpack}
var<workgroup> ta: array<vec4<${F}>, ${(BK * TM) / 4}>; // [k][m/4]
var<workgroup> tb: array<vec4<${F}>, ${(BK * TN) / 4}>; // [k][n/4]
@compute @workgroup_size(16, 16) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  ${
    e.pair
      ? `let tilesN = (p.N + ${TN - 1}u) / ${TN}u;
  let second = wg.x >= tilesN;
  let nBase = (wg.x - select(0u, tilesN, second)) * ${TN}u;`
      : `let nBase = wg.x * ${TN}u;`
  }
  let mBase = wg.y * ${TM}u;
  var acc: array<vec4f, 4>; // acc[i][j]: row mBase + ty·4 + i, column nBase + tx·4 + j
  for (var k0 = 0u; k0 < p.R; k0 += ${BK}u) {
    // A: 64 rows × 32 k = 512 vec4f, two per thread, stored transposed ([k][m]).
    for (var r = 0u; r < 2u; r++) {
      let idx = li + r * 256u;
      let m = idx / 8u;
      let kk = (idx % 8u) * 4u;
      var v = vec4f();
      if (mBase + m < p.M && k0 + kk < p.R) { v = a[((mBase + m) * p.aStride + p.aCol0 + k0 + kk) / 4u]; }
      for (var j = 0u; j < 4u; j++) { ta[(kk + j) * ${TM / 4}u + m / 4u][m % 4u] = ${F}(v[j]); }
    }
    ${loadB}
    workgroupBarrier();
    for (var kk = 0u; kk < ${BK}u; kk += 2u) {
      let a0 = ta[kk * ${TM / 4}u + lid.y];
      let a1 = ta[(kk + 1u) * ${TM / 4}u + lid.y];
      let b0 = tb[kk * ${TN / 4}u + lid.x];
      let b1 = tb[(kk + 1u) * ${TN / 4}u + lid.x];
      ${step}
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let t = mBase + lid.y * 4u + i;
    if (t >= p.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = nBase + lid.x * 4u + j;
      if (n >= p.N) { break; }
      var v = acc[i][j];
      let ci = t * p.cStride + p.cCol0 + n;
      ${
        e.pair
          ? `if (second) { ${e.lora ? 'v += loraTerm2(t, n);' : ''} cp[ci] = v; } else { ${after} c[ci] = v; }`
          : `if ((p.flags & 1u) != 0u) { v += bias[p.bias0 + n]; }
      ${before}
      if ((p.flags & 2u) != 0u) { v += c[ci]; }
      ${after}
      c[ci] = v;`
      }
    }
  }
}`;
}

const codes = new Map<string, string>();
function code(dtype: 'bf16' | 'f16', layout: Layout, half: boolean, e: Epilogue): string {
  const key = `${dtype}${layout}${half}${e.lora}${e.residual}${!!e.pair}`;
  let c = codes.get(key);
  if (!c) codes.set(key, (c = tiledGemm(dtype, layout, half, e)));
  return c;
}
const suffix = (e: Epilogue) => `${e.lora ? '_lora' : ''}${e.residual ? '_res' : ''}${e.pair ? '_pair' : ''}`;

const BYTES = (half: boolean) => (BK * (TM + TN) * (half ? 2 : 4)) as number;

function tiledLinear(half: boolean): KernelVersion<LinearArgs> {
  return {
    op: 'linear',
    name: half ? 'linear.tiled-f16' : 'linear.tiled',
    family: half ? 'tiled-f16' : 'tiled',
    features: half ? ['shader-f16'] : [],
    workgroupBytes: BYTES(half),
    summary: `64×64 output tile, 32-deep K tiles in workgroup memory (${half ? 'f16' : 'f32'}), vec4 loads, 4×4 per thread`,
    // vec4 loads of x rows and vec4<u32> loads of W rows need K to divide by 8.
    supports: (a) => a.W.cols % 8 === 0,
    record(runner, pass, a) {
      const flags = (a.bias ? 1 : 0) | (a.accumulate ? 2 : 0);
      const K = a.W.cols;
      checkPair(a);
      const e = { lora: !!a.lora, residual: !!a.residual, pair: !!a.pair };
      runner.dispatch(
        pass,
        runner.pipeline(code(a.W.dtype, 'nk', half, e), `linear_tiled${half ? '_f16' : ''}_${a.W.dtype}${suffix(e)}`),
        [a.x, a.band.buffer, ...(a.pair ? [] : [a.bias?.buffer ?? a.x]), a.y, ...forwardEpilogueBuffers(a), ...pairBuffers(a)],
        params(
          u32(a.T),
          u32(a.band.rows),
          u32(K),
          u32(K),
          u32(0),
          u32(a.band.bufferRow),
          u32(K / 2),
          u32(a.yStride),
          u32(a.yCol0),
          u32(a.bias?.offset ?? 0),
          u32(flags),
          ...loraEpilogueWords(a.lora, a.pair?.lora),
        ),
        [Math.ceil(a.band.rows / TN) * (a.pair ? 2 : 1), Math.ceil(a.T / TM)],
      );
    },
  };
}

function tiledLinearDx(half: boolean): KernelVersion<LinearDxArgs> {
  return {
    op: 'linear-dx',
    name: half ? 'linear-dx.tiled-f16' : 'linear-dx.tiled',
    family: half ? 'tiled-f16' : 'tiled',
    features: half ? ['shader-f16'] : [],
    workgroupBytes: BYTES(half),
    summary: `dx = dy·W: 64×64 tile of dx, 32 rows of W per step in workgroup memory (${half ? 'f16' : 'f32'}), vec4 loads`,
    // dy is read as vec4f along its rows: its stride, column offset and the band's row count divide by 4.
    supports: (a) => a.W.cols % 8 === 0 && a.dyStride % 4 === 0 && a.dyCol0 % 4 === 0 && a.band.rows % 4 === 0,
    record(runner, pass, a) {
      const K = a.W.cols;
      const e = { lora: !!a.lora, residual: false };
      runner.dispatch(
        pass,
        runner.pipeline(code(a.W.dtype, 'kn', half, e), `linear_dx_tiled${half ? '_f16' : ''}_${a.W.dtype}${suffix(e)}`),
        [a.dy, a.band.buffer, a.dy, a.dx, ...(a.lora ? loraEpilogueBuffers(a.lora) : [])],
        params(
          u32(a.T),
          u32(K),
          u32(a.band.rows),
          u32(a.dyStride),
          u32(a.dyCol0),
          u32(a.band.bufferRow),
          u32(K / 2),
          u32(K),
          u32(0),
          u32(0),
          u32(a.accumulate ? 2 : 0),
          ...loraEpilogueWords(a.lora),
        ),
        [Math.ceil(K / TN), Math.ceil(a.T / TM)],
      );
    },
  };
}

export const LINEAR_TILED = tiledLinear(false);
export const LINEAR_TILED_F16 = tiledLinear(true);
export const LINEAR_DX_TILED = tiledLinearDx(false);
export const LINEAR_DX_TILED_F16 = tiledLinearDx(true);
