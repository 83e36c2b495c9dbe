// Causal grouped-query attention, FlashAttention-style: each invocation owns one
// (query row, head), streams over the keys with an online softmax, and keeps only its
// log-sum-exp, so memory is O(T·heads), never heads × T². Backward recomputes the
// probabilities from that log-sum-exp (FlashAttention-2): one kernel for dq (and
// D = rowsum(dout∘out)), one for dk/dv that loops over the query heads of its kv group,
// so nothing needs float atomics.
import type { KernelRunner } from '../kernel.ts';
import { attentionBindings, attentionHeader, attentionParams, checkHeads, checkRows, dispatchAttention } from './attention-common.ts';

const WG = 64;

const indexFns = /* wgsl */ `
fn qIndex(t: u32, h: u32) -> u32 { return (t * p.nHeads + h) * HD; }
fn kvIndex(t: u32, h: u32) -> u32 { return (t * p.nKv + h) * HD; }`;

const forward = (hd: number) => /* wgsl */ `
${attentionHeader('fwd', hd)}
${indexFns}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x;
  let h = g.y;
  if (i >= p.T) { return; }
  let kh = h / (p.nHeads / p.nKv);
  var qr: array<f32, ${hd}>;
  var acc: array<f32, ${hd}>;
  let qi = qIndex(i, h);
  for (var d = 0u; d < HD; d++) { qr[d] = q[qi + d] * p.scale; acc[d] = 0.0; }
  var mx = -3.0e38;
  var sum = 0.0;
  for (var j = 0u; j <= i; j++) {
    let kj = kvIndex(j, kh);
    var s = 0.0;
    for (var d = 0u; d < HD; d++) { s += qr[d] * k[kj + d]; }
    let mNew = max(mx, s);
    let corr = exp(mx - mNew);
    let e = exp(s - mNew);
    sum = sum * corr + e;
    for (var d = 0u; d < HD; d++) { acc[d] = acc[d] * corr + e * v[kj + d]; }
    mx = mNew;
  }
  for (var d = 0u; d < HD; d++) { out[qi + d] = acc[d] / sum; }
  lse[h * p.T + i] = mx + log(sum);
}`;

const backwardQ = (hd: number) => /* wgsl */ `
${attentionHeader('bq', hd)}
${indexFns}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x;
  let h = g.y;
  if (i >= p.T) { return; }
  let kh = h / (p.nHeads / p.nKv);
  let qi = qIndex(i, h);
  var qr: array<f32, ${hd}>;
  var dor: array<f32, ${hd}>;
  var acc: array<f32, ${hd}>;
  var D = 0.0;
  for (var d = 0u; d < HD; d++) {
    qr[d] = q[qi + d] * p.scale;
    dor[d] = dout[qi + d];
    D += dor[d] * out[qi + d];
    acc[d] = 0.0;
  }
  delta[h * p.T + i] = D;
  let L = lse[h * p.T + i];
  for (var j = 0u; j <= i; j++) {
    let kj = kvIndex(j, kh);
    var s = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < HD; d++) { s += qr[d] * k[kj + d]; dp += dor[d] * v[kj + d]; }
    let ds = exp(s - L) * (dp - D) * p.scale;
    for (var d = 0u; d < HD; d++) { acc[d] += ds * k[kj + d]; }
  }
  for (var d = 0u; d < HD; d++) { dq[qi + d] = acc[d]; }
}`;

const backwardKV = (hd: number) => /* wgsl */ `
${attentionHeader('bkv', hd)}
${indexFns}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) g: vec3u) {
  let j = g.x;
  let kh = g.y;
  if (j >= p.T) { return; }
  let group = p.nHeads / p.nKv;
  let kj = kvIndex(j, kh);
  var kr: array<f32, ${hd}>;
  var vr: array<f32, ${hd}>;
  var dkr: array<f32, ${hd}>;
  var dvr: array<f32, ${hd}>;
  for (var d = 0u; d < HD; d++) { kr[d] = k[kj + d]; vr[d] = v[kj + d]; dkr[d] = 0.0; dvr[d] = 0.0; }
  for (var h = kh * group; h < (kh + 1u) * group; h++) {
    for (var i = j; i < p.T; i++) {
      let qi = qIndex(i, h);
      var s = 0.0;
      var dp = 0.0;
      for (var d = 0u; d < HD; d++) { s += q[qi + d] * kr[d]; dp += dout[qi + d] * vr[d]; }
      let pr = exp(s * p.scale - lse[h * p.T + i]);
      let ds = pr * (dp - delta[h * p.T + i]) * p.scale;
      for (var d = 0u; d < HD; d++) {
        dvr[d] += pr * dout[qi + d];
        dkr[d] += ds * q[qi + d];
      }
    }
  }
  for (var d = 0u; d < HD; d++) { dk[kj + d] = dkr[d]; dv[kj + d] = dvr[d]; }
}`;

const cache = new Map<string, string>();
function code(kind: 'fwd' | 'bq' | 'bkv', hd: number): string {
  const key = `${kind}${hd}`;
  let c = cache.get(key);
  if (!c) cache.set(key, (c = kind === 'fwd' ? forward(hd) : kind === 'bq' ? backwardQ(hd) : backwardKV(hd)));
  return c;
}

function check(T: number, nHeads: number, nKv: number): void {
  checkHeads(nHeads, nKv);
  checkRows(T, WG);
}

/** out = causal softmax(q·kᵀ/√d)·v; lse [nHeads, T] kept for backward. q,out: [T, nHeads·d]; k,v: [T, nKv·d]. */
export function attentionForward(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  q: GPUBuffer,
  k: GPUBuffer,
  v: GPUBuffer,
  out: GPUBuffer,
  lse: GPUBuffer,
  T: number,
  nHeads: number,
  nKv: number,
  headDim: number,
): void {
  check(T, nHeads, nKv);
  const p = attentionParams(T, nHeads, nKv, headDim);
  dispatchAttention(runner, pass, attentionBindings('fwd'), code('fwd', headDim), 'attention', { q, k, v, out, lse }, p, [
    Math.ceil(T / WG),
    nHeads,
  ]);
}

/** dq, dk, dv (written, not accumulated). `delta` is scratch [nHeads, T]. */
export function attentionBackward(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  q: GPUBuffer,
  k: GPUBuffer,
  v: GPUBuffer,
  out: GPUBuffer,
  lse: GPUBuffer,
  dout: GPUBuffer,
  dq: GPUBuffer,
  dk: GPUBuffer,
  dv: GPUBuffer,
  delta: GPUBuffer,
  T: number,
  nHeads: number,
  nKv: number,
  headDim: number,
): void {
  check(T, nHeads, nKv);
  const p = attentionParams(T, nHeads, nKv, headDim);
  const buffers = { q, k, v, out, lse, dout, dq, dk, dv, delta };
  dispatchAttention(runner, pass, attentionBindings('bq'), code('bq', headDim), 'attention_bwd_q', buffers, p, [Math.ceil(T / WG), nHeads]);
  dispatchAttention(runner, pass, attentionBindings('bkv'), code('bkv', headDim), 'attention_bwd_kv', buffers, p, [Math.ceil(T / WG), nKv]);
}
