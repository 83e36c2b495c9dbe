// Causal GQA attention of new queries against the KV cache (prefill chunks and one-token
// decode). Query t of the chunk sits at position pos0 + t and sees keys 0..pos0+t. One
// workgroup per (query, head): its threads split the keys, each keeps an online softmax
// (max, sum, weighted values), then the partial results are merged in shared memory —
// so a single decoded token still spreads over many threads (flash-decoding). The cache
// may hold f16 (src/gpu/kv-cache.ts): each element is widened on load, math stays f32.
// That version runs everywhere (family register); ATTENTION_CACHED_VERSIONS adds a
// subgroup one (attention-cached-subgroup.ts), and the selection picks per shape.
import { params, u32, f32, wgslWorkgroupSum, type KernelRunner } from '../kernel.ts';
import type { KernelVersion, OpShape } from '../kernel-versions.ts';
import { ATTENTION_CACHED_SUBGROUP } from './attention-cached-subgroup.ts';

const WG = 64;

const kernel = (hd: number, kv: 'f32' | 'f16') => /* wgsl */ `
${kv === 'f16' ? 'enable f16;' : ''}
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> kc: array<${kv}>;
@group(0) @binding(2) var<storage, read> vc: array<${kv}>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
struct P { nHeads: u32, nKv: u32, pos0: u32, scale: f32 }
@group(0) @binding(4) var<uniform> p: P;
const HD: u32 = ${hd}u;
${wgslWorkgroupSum('f32', WG)}
// The max over the workgroup, through the same shared array red as workgroupSum.
fn reduceMax(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lidv: vec3u) {
  let t = wg.x;
  let h = wg.y;
  let lid = lidv.x;
  let kh = h / (p.nHeads / p.nKv);
  let n = p.pos0 + t + 1u;
  let qi = (t * p.nHeads + h) * HD;
  var qr: array<f32, ${hd}>;
  var acc: array<f32, ${hd}>;
  for (var d = 0u; d < HD; d++) { qr[d] = q[qi + d] * p.scale; acc[d] = 0.0; }
  var mx = -3.0e38;
  var sum = 0.0;
  for (var j = lid; j < n; j += ${WG}u) {
    let kj = (j * p.nKv + kh) * HD;
    var s = 0.0;
    for (var d = 0u; d < HD; d++) { s += qr[d] * f32(kc[kj + d]); }
    let mNew = max(mx, s);
    let corr = exp(mx - mNew);
    let e = exp(s - mNew);
    sum = sum * corr + e;
    for (var d = 0u; d < HD; d++) { acc[d] = acc[d] * corr + e * f32(vc[kj + d]); }
    mx = mNew;
  }
  // Merge the threads' partial softmaxes: rescale each to the global max.
  let M = reduceMax(mx, lid);
  let f = select(0.0, exp(mx - M), sum > 0.0);
  let total = workgroupSum(sum * f, lid);
  for (var d = 0u; d < HD; d++) {
    let v = workgroupSum(acc[d] * f, lid);
    if (lid == 0u) { out[qi + d] = v / total; }
  }
}`;

const cache = new Map<string, string>();

/** One call: T new queries at positions pos0.. against a cache already holding their keys. */
export interface AttentionCachedArgs {
  /** [T, nHeads·headDim] f32. */
  q: GPUBuffer;
  /** [positions, nKv·headDim] of `kvType`. */
  kCache: GPUBuffer;
  vCache: GPUBuffer;
  /** [T, nHeads·headDim] f32. */
  out: GPUBuffer;
  T: number;
  pos0: number;
  nHeads: number;
  nKv: number;
  headDim: number;
  kvType: 'f32' | 'f16';
}

/** The shape key: T = keys the last query sees (the cache length), K = head size, N = query heads per kv head. */
export function attentionCachedShape(a: Pick<AttentionCachedArgs, 'T' | 'pos0' | 'nHeads' | 'nKv' | 'headDim'>): OpShape {
  return { T: a.pos0 + a.T, K: a.headDim, N: a.nHeads / a.nKv };
}

export const ATTENTION_CACHED_SHARED: KernelVersion<AttentionCachedArgs> = {
  op: 'attention-cached',
  name: 'attention-cached.shared',
  family: 'register',
  features: [],
  workgroupBytes: WG * 4,
  summary: 'a 64-thread workgroup per (query, head), threads split the keys, merged by tree reductions in workgroup memory; any shape',
  supports: () => true,
  record(runner, pass, a) {
    const key = `${a.headDim}${a.kvType}`;
    let code = cache.get(key);
    if (!code) cache.set(key, (code = kernel(a.headDim, a.kvType)));
    runner.dispatch(
      pass,
      runner.pipeline(code, `attention_cached_${a.kvType}`),
      [a.q, a.kCache, a.vCache, a.out],
      params(u32(a.nHeads), u32(a.nKv), u32(a.pos0), f32(1 / Math.sqrt(a.headDim))),
      [a.T, a.nHeads],
    );
  },
};

/** Every version of cached attention; the first is the fallback. */
export const ATTENTION_CACHED_VERSIONS: readonly KernelVersion<AttentionCachedArgs>[] = [
  ATTENTION_CACHED_SHARED,
  ATTENTION_CACHED_SUBGROUP,
];

/**
 * out[t] = softmax(q[t]·Kᵀ/√d)·V over cached positions 0..pos0+t, for T queries, with the
 * version the selection picks.
 * q, out: [T, nHeads·hd]; kCache, vCache: [positions, nKv·hd] (f32, or f16 with `kvType`)
 * already holding the chunk's keys.
 */
export function attentionCached(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  q: GPUBuffer,
  kCache: GPUBuffer,
  vCache: GPUBuffer,
  out: GPUBuffer,
  T: number,
  pos0: number,
  nHeads: number,
  nKv: number,
  headDim: number,
  kvType: 'f32' | 'f16' = 'f32',
): void {
  if (nHeads % nKv) throw new Error(`attention heads ${nHeads} must be a multiple of kv heads ${nKv}`);
  const a: AttentionCachedArgs = { q, kCache, vCache, out, T, pos0, nHeads, nKv, headDim, kvType };
  runner.kernels.choose(ATTENTION_CACHED_VERSIONS, attentionCachedShape(a), a).record(runner, pass, a);
}
