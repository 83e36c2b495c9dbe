// Causal GQA attention, FlashAttention-2 with f16 math (needs `shader-f16`): the same
// passes, row mapping, buffers and lse/delta layout as attention-flash.ts (so it pairs with
// either other version), but the blocks staged in workgroup memory are vec4<f16>: half the
// bytes of the f32 version, so the blocks are twice as deep in the same memory (BC = 32
// keys at d = 128 in WebGPU's default 16 KiB instead of 16). The score and dp dot products
// are vec4<f16> dots (four f16 products, one f16 sum) added up in f32; the softmax, lse,
// delta and every accumulator (O, dQ, dK, dV) stay f32, and the buffers stay f32.
//
// Range: q is scaled by 1/√d before it is rounded, so q·k products stay far from f16's
// 65,504 for any sane activations (inputs are clamped to it). Gradients are small (a mean
// loss over T tokens makes dout ≈ 1e-4…1e-7, below f16's normal range), so each dout row is
// multiplied by a power of two σ that brings its largest value into [0.5, 1) before it is
// rounded, and the products with it are divided by σ in f32 (exact: a power of two).
import { GpuError } from '../errors.ts';
import { attentionBindings, attentionHeader, attentionParams, checkHeads, checkRows, type AttentionPassKind } from './attention-common.ts';
import { flashRunners, kvBlocks, type FlashLimits, type FlashPass, type FlashTiles } from './attention-flash.ts';

/**
 * How far this version's out, dq, dk and dv may be from exact (relative to each tensor's
 * largest value) at head size `hd`: 2·u·√d, u = 2⁻¹¹ (f16's unit roundoff). A score is a sum
 * of d products whose q, k and vec4 partial sums are each rounded once (relative u): its
 * error is at most 3u·Σ|q_d·k_d|/√d ≈ 3u·(2/π)·√d ≈ 1.9u·√d for unit-scale inputs, and the
 * softmax turns a score error into the same relative error of p, hence of out and the
 * gradients (v and dout add one rounding, u). Measured on lavapipe: ≤ 1.2e-3 at d = 4–128
 * (test/gpu/attention.test.ts), against 2.0e-3 (d = 4) … 1.1e-2 (d = 128).
 */
export const ATTENTION_F16_TOLERANCE = (hd: number): number => 2 * 2 ** -11 * Math.sqrt(hd);

const ROWS = 64;
const BC_MAX = 32;
const BRQ_MAX = 32;
const BCK = 64;

/**
 * Block sizes of the f16 version for head size `hd` (a multiple of 4: vec4 blocks) and
 * `group` query heads per kv head. Workgroup memory: K and V blocks of BC·hd f16 each
 * (4·BC·hd bytes), or Q and dout blocks of BRQ·hd f16 plus lse, delta and σ per row
 * (BRQ·(4·hd + 12) bytes). At 16 KiB: BC = 32 and BRQ = 31 for both d = 64 and d = 128.
 */
export function flashTilesF16(limits: FlashLimits, hd: number, group: number): FlashTiles {
  const bytes = limits.maxComputeWorkgroupStorageSize;
  const bc = Math.min(BC_MAX, Math.floor(bytes / (4 * hd)));
  const brq = Math.min(BRQ_MAX, Math.floor(bytes / (4 * hd + 12)));
  const br = Math.max(1, Math.min(64, Math.floor(ROWS / group)));
  const bck = Math.min(BCK, limits.maxComputeInvocationsPerWorkgroup);
  if (hd % 4 || bc < 1 || brq < 1 || br * group > limits.maxComputeInvocationsPerWorkgroup) {
    throw new GpuError(
      'INTERNAL',
      `f16 flash attention does not fit this shape or adapter (head size ${hd}, a multiple of 4 is needed; ` +
        `${group} query heads per kv head; ${bytes} bytes of workgroup memory, ${limits.maxComputeInvocationsPerWorkgroup} invocations).`,
      'Use another attention version: --kernels tiled or register (or the tuner, which skips versions that do not fit).',
    );
  }
  return { br, bc, bck, brq };
}

// f16's largest finite value: f32 → f16 of anything beyond is undefined in WGSL.
const header = (kind: AttentionPassKind, hd: number, group: number) => /* wgsl */ `enable f16;
${attentionHeader(kind, hd)}
const G: u32 = ${group}u;
const H4: u32 = ${hd / 4}u;
const F16_MAX: f32 = 65504.0;
fn half4(x: vec4f) -> vec4<f16> { return vec4<f16>(clamp(x, vec4f(-F16_MAX), vec4f(F16_MAX))); }
// A power of two that brings a row's largest magnitude m into [0.5, 1) (1 for m = 0).
fn rowScale(m: f32) -> f32 { return ldexp(1.0, -frexp(m).exp); }
// n, hidden from the shader compiler (p.nKv < 2^31): the loops over a row's vec4s keep a
// run-time bound, which lavapipe needs (unrolled fully, the register arrays of vec4s take
// its LLVM minutes to compile at d = 128).
fn opaque(n: u32) -> u32 { return n | (p.nKv & 0x80000000u); }`;

// Four consecutive floats of a buffer (the engine's buffers are array<f32>).
const get4 = (buf: string, at: string) => `vec4f(${buf}[${at}], ${buf}[${at} + 1u], ${buf}[${at} + 2u], ${buf}[${at} + 3u])`;

// Forward and dq: BR query rows × G heads per workgroup, K/V blocks of BC keys as f16.
const rowsAndKvBlock = (br: number, bc: number) => /* wgsl */ `
const BR: u32 = ${br}u;
const BC: u32 = ${bc}u;
const WGS: u32 = ${br}u * G;
var<workgroup> kt: array<vec4<f16>, ${bc}u * H4>;
var<workgroup> vt: array<vec4<f16>, ${bc}u * H4>;
// Keys j0..j0+BC-1 of kv head kh into kt/vt (zeros past T); consecutive threads read consecutive vec4s.
fn loadKv(j0: u32, kh: u32, lid: u32) {
  for (var e = lid; e < BC * H4; e += WGS) {
    let r = j0 + e / H4;
    var x = vec4<f16>();
    var y = vec4<f16>();
    if (r < p.T) {
      let idx = (r * p.nKv + kh) * HD + (e % H4) * 4u;
      x = half4(${get4('k', 'idx')});
      y = half4(${get4('v', 'idx')});
    }
    kt[e] = x;
    vt[e] = y;
  }
}
@compute @workgroup_size(WGS) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let kh = wg.y;
  let i0 = wg.x * BR;
  let i = i0 + lid / G;
  let h = kh * G + lid % G;
  let live = i < p.T;
  let row = min(i, p.T - 1u);
  let qi = (row * p.nHeads + h) * HD;
  let h4 = opaque(H4);`;

const forward = (hd: number, group: number, t: FlashTiles) => /* wgsl */ `
${header('fwd', hd, group)}
${rowsAndKvBlock(t.br, t.bc)}
  var qr: array<vec4<f16>, H4>;
  var acc: array<vec4f, H4>;
  var s: array<f32, ${t.bc}>;
  for (var d = 0u; d < h4; d++) { qr[d] = half4(${get4('q', 'qi + d * 4u')} * p.scale); acc[d] = vec4f(); }
  var m = -3.0e38;
  var l = 0.0;
${kvBlocks(/* wgsl */ `
      var mb = m;
      for (var c = 0u; c < n; c++) {
        var sc = 0.0;
        for (var d = 0u; d < h4; d++) { sc += f32(dot(qr[d], kt[c * H4 + d])); }
        s[c] = sc;
        mb = max(mb, sc);
      }
      let corr = exp(m - mb);
      l *= corr;
      for (var d = 0u; d < h4; d++) { acc[d] *= corr; }
      for (var c = 0u; c < n; c++) {
        let pc = exp(s[c] - mb);
        l += pc;
        for (var d = 0u; d < h4; d++) { acc[d] += pc * vec4f(vt[c * H4 + d]); }
      }
      m = mb;`)}
  if (live) {
    for (var d = 0u; d < h4; d++) {
      let o = acc[d] / l;
      for (var e = 0u; e < 4u; e++) { out[qi + d * 4u + e] = o[e]; }
    }
    lse[h * p.T + i] = m + log(l);
  }
}`;

const backwardQ = (hd: number, group: number, t: FlashTiles) => /* wgsl */ `
${header('bq', hd, group)}
${rowsAndKvBlock(t.br, t.bc)}
  var qr: array<vec4<f16>, H4>;
  var dor: array<vec4<f16>, H4>;
  var acc: array<vec4f, H4>;
  var D = 0.0;
  var mx = 0.0;
  for (var d = 0u; d < h4; d++) {
    let g = ${get4('dout', 'qi + d * 4u')};
    D += dot(g, ${get4('out', 'qi + d * 4u')});
    mx = max(mx, max(max(abs(g.x), abs(g.y)), max(abs(g.z), abs(g.w))));
    qr[d] = half4(${get4('q', 'qi + d * 4u')} * p.scale);
    acc[d] = vec4f();
  }
  let sg = rowScale(mx);
  let inv = 1.0 / sg;
  for (var d = 0u; d < h4; d++) { dor[d] = half4(${get4('dout', 'qi + d * 4u')} * sg); }
  if (live) { delta[h * p.T + i] = D; }
  let L = lse[h * p.T + row];
${kvBlocks(/* wgsl */ `
      for (var c = 0u; c < n; c++) {
        var s = 0.0;
        var dp = 0.0;
        for (var d = 0u; d < h4; d++) {
          s += f32(dot(qr[d], kt[c * H4 + d]));
          dp += f32(dot(dor[d], vt[c * H4 + d]));
        }
        let ds = exp(s - L) * (dp * inv - D);
        for (var d = 0u; d < h4; d++) { acc[d] += ds * vec4f(kt[c * H4 + d]); }
      }`)}
  if (live) {
    for (var d = 0u; d < h4; d++) {
      let g = acc[d] * p.scale;
      for (var e = 0u; e < 4u; e++) { dq[qi + d * 4u + e] = g[e]; }
    }
  }
}`;

// dk/dv: BCK keys of one kv head per workgroup; q (× 1/√d) and dout (× σ per row) blocks as f16.
const backwardKV = (hd: number, group: number, t: FlashTiles) => /* wgsl */ `
${header('bkv', hd, group)}
const BCK: u32 = ${t.bck}u;
const BRQ: u32 = ${t.brq}u;
var<workgroup> qt: array<vec4<f16>, ${t.brq}u * H4>;
var<workgroup> ot: array<vec4<f16>, ${t.brq}u * H4>;
var<workgroup> lt: array<f32, ${t.brq}>;
var<workgroup> dt: array<f32, ${t.brq}>;
var<workgroup> st: array<f32, ${t.brq}>;
@compute @workgroup_size(BCK) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let kh = wg.y;
  let j0 = wg.x * BCK;
  let j = j0 + lid;
  let live = j < p.T;
  let kj = (min(j, p.T - 1u) * p.nKv + kh) * HD;
  let h4 = opaque(H4);
  var kr: array<vec4<f16>, H4>;
  var vr: array<vec4<f16>, H4>;
  var dkr: array<vec4f, H4>;
  var dvr: array<vec4f, H4>;
  for (var d = 0u; d < h4; d++) {
    kr[d] = half4(${get4('k', 'kj + d * 4u')});
    vr[d] = half4(${get4('v', 'kj + d * 4u')});
    dkr[d] = vec4f();
    dvr[d] = vec4f();
  }
  let first = j0 / BRQ;
  let blocks = (p.T + BRQ - 1u) / BRQ;
  for (var g = 0u; g < G; g++) {
    let h = kh * G + g;
    for (var b = first; b < blocks; b++) {
      let i0 = b * BRQ;
      workgroupBarrier();
      // Per query row: lse, delta and σ (from the row's largest |dout|).
      for (var r = lid; r < BRQ; r += BCK) {
        let i = min(i0 + r, p.T - 1u);
        lt[r] = lse[h * p.T + i];
        dt[r] = delta[h * p.T + i];
        let o = (i * p.nHeads + h) * HD;
        var mx = 0.0;
        for (var d = 0u; d < HD; d++) { mx = max(mx, abs(dout[o + d])); }
        st[r] = rowScale(mx);
      }
      workgroupBarrier();
      for (var e = lid; e < BRQ * H4; e += BCK) {
        let r = e / H4;
        let i = i0 + r;
        var x = vec4<f16>();
        var y = vec4<f16>();
        if (i < p.T) {
          let idx = (i * p.nHeads + h) * HD + (e % H4) * 4u;
          x = half4(${get4('q', 'idx')} * p.scale);
          y = half4(${get4('dout', 'idx')} * st[r]);
        }
        qt[e] = x;
        ot[e] = y;
      }
      workgroupBarrier();
      if (live) {
        let n = min(BRQ, p.T - i0);
        for (var r = 0u; r < n; r++) {
          if (i0 + r < j) { continue; }
          var s = 0.0;
          var dp = 0.0;
          for (var d = 0u; d < h4; d++) {
            s += f32(dot(qt[r * H4 + d], kr[d]));
            dp += f32(dot(ot[r * H4 + d], vr[d]));
          }
          let inv = 1.0 / st[r];
          let pr = exp(s - lt[r]);
          let ds = pr * (dp * inv - dt[r]);
          let pv = pr * inv;
          for (var d = 0u; d < h4; d++) {
            dvr[d] += pv * vec4f(ot[r * H4 + d]);
            dkr[d] += ds * vec4f(qt[r * H4 + d]);
          }
        }
      }
    }
  }
  if (live) {
    for (var d = 0u; d < h4; d++) {
      for (var e = 0u; e < 4u; e++) { dk[kj + d * 4u + e] = dkr[d][e]; dv[kj + d * 4u + e] = dvr[d][e]; }
    }
  }
}`;

const cache = new Map<string, string>();
function code(kind: AttentionPassKind, hd: number, group: number, t: FlashTiles): string {
  const key = `${kind}:${hd}:${group}:${t.br}:${t.bc}:${t.bck}:${t.brq}`;
  let c = cache.get(key);
  if (!c) {
    c = kind === 'fwd' ? forward(hd, group, t) : kind === 'bq' ? backwardQ(hd, group, t) : backwardKV(hd, group, t);
    cache.set(key, c);
  }
  return c;
}

/** The f16 version's dispatches (forward, dq, dk/dv) for a shape: as flashPasses. */
export function flashF16Passes(
  limits: FlashLimits,
  T: number,
  nHeads: number,
  nKv: number,
  hd: number,
  tiles?: Partial<FlashTiles>,
): { forward: FlashPass; dq: FlashPass; dkv: FlashPass } {
  checkHeads(nHeads, nKv);
  const group = nHeads / nKv;
  const t = { ...flashTilesF16(limits, hd, group), ...tiles };
  checkRows(T, Math.min(t.br, t.bck));
  const p = attentionParams(T, nHeads, nKv, hd);
  const rows: [number, number] = [Math.ceil(T / t.br), nKv];
  const pass = (kind: AttentionPassKind, label: string, workgroups: [number, number]): FlashPass => ({
    label,
    code: code(kind, hd, group, t),
    bindings: attentionBindings(kind),
    params: p,
    workgroups,
  });
  return {
    forward: pass('fwd', 'attention_flash_f16', rows),
    dq: pass('bq', 'attention_flash_f16_bwd_q', rows),
    dkv: pass('bkv', 'attention_flash_f16_bwd_kv', [Math.ceil(T / t.bck), nKv]),
  };
}

export const { forward: attentionForwardFlashF16, backward: attentionBackwardFlashF16 } = flashRunners(flashF16Passes);
