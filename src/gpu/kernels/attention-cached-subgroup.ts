// Cached attention (decode and prefill chunks) with subgroups. One 64-thread workgroup per
// (query, head), as the shared-memory version, but each subgroup walks whole keys: its
// lanes split the head dimension in 16-byte loads (vec4f of an f32 cache, vec4u = 8 halves
// of an f16 one, widened exactly with unpack2x16float), so a K or V row is one coalesced
// read, q·k is one subgroupAdd, and the online softmax's max and sum are the same in every
// lane (no reduction needed). Subgroups take keys j = slot, slot + nSub, …; their partial
// softmaxes are merged once through workgroup memory (one barrier, where the other version
// needs 2 + 7·(head size + 2)). The subgroup size (4–128 by GPU) is read from the builtin:
// a lane owns loads lane, lane + size, … of a row, and subgroups count themselves with a
// workgroup atomic (no assumption about how lanes map to subgroups).
import { params, u32, f32, type KernelRunner } from '../kernel.ts';
import type { KernelVersion } from '../kernel-versions.ts';
import type { AttentionCachedArgs } from './attention-cached.ts';

const WG = 64;
/** Subgroups merged through workgroup memory: 64 threads at the smallest size (4). */
const MAXSUB = 16;
/** Largest head size: MAXSUB partial outputs of it must fit 16 KB of workgroup memory. */
const MAX_HD = 128;

const kernel = (hd: number, kv: 'f32' | 'f16') => {
  const cw = kv === 'f32' ? 4 : 8; // elements per 16-byte load
  const cv = cw / 4; // vec4f per load
  const nc = hd / cw; // loads per row
  const maxc = Math.ceil(nc / 4); // loads per lane at the smallest subgroup size
  // The row's load c, widened to f32, as `cv` vec4f: (row load) → (expressions).
  const parts = (w: string) =>
    kv === 'f32'
      ? [w]
      : [`vec4f(unpack2x16float(${w}.x), unpack2x16float(${w}.y))`, `vec4f(unpack2x16float(${w}.z), unpack2x16float(${w}.w))`];
  const dotK = parts('kw')
    .map((e, v) => `dot(qr[i * ${cv}u + ${v}u], ${e})`)
    .join(' + ');
  const accV = parts('vw')
    .map((e, v) => `acc[i * ${cv}u + ${v}u] = acc[i * ${cv}u + ${v}u] * corr + e * ${e};`)
    .join('\n        ');
  return /* wgsl */ `
enable subgroups;
diagnostic(off, subgroup_uniformity);
@group(0) @binding(0) var<storage, read> q: array<vec4f>;
@group(0) @binding(1) var<storage, read> kc: array<${kv === 'f32' ? 'vec4f' : 'vec4u'}>;
@group(0) @binding(2) var<storage, read> vc: array<${kv === 'f32' ? 'vec4f' : 'vec4u'}>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;
struct P { nHeads: u32, nKv: u32, pos0: u32, scale: f32 }
@group(0) @binding(4) var<uniform> p: P;
const HD4: u32 = ${hd / 4}u; // vec4f per row
const NC: u32 = ${nc}u; // 16-byte loads per row
const MAXC: u32 = ${maxc}u;
const MAXSUB: u32 = ${MAXSUB}u;
var<workgroup> slots: atomic<u32>;
var<workgroup> sm: array<f32, MAXSUB>;
var<workgroup> sl: array<f32, MAXSUB>;
var<workgroup> sacc: array<vec4f, ${MAXSUB * (hd / 4)}>;
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sgSize: u32) {
  let t = wg.x;
  let h = wg.y;
  let kh = h / (p.nHeads / p.nKv);
  let n = p.pos0 + t + 1u;
  // One slot per subgroup, claimed by its lowest lane; the count is read after the barrier.
  let leader = subgroupMin(lane);
  var mine = 0u;
  if (lane == leader) { mine = atomicAdd(&slots, 1u); }
  let slot = subgroupMax(mine);
  workgroupBarrier();
  let nSub = min(atomicLoad(&slots), MAXSUB);
  let qb = (t * p.nHeads + h) * HD4;
  var qr: array<vec4f, ${maxc * cv}>;
  var acc: array<vec4f, ${maxc * cv}>;
  for (var i = 0u; i < MAXC; i++) {
    let c = lane + i * sgSize;
    for (var v = 0u; v < ${cv}u; v++) {
      acc[i * ${cv}u + v] = vec4f(0.0);
      if (c < NC) { qr[i * ${cv}u + v] = q[qb + c * ${cv}u + v] * p.scale; }
    }
  }
  var mx = -3.0e38;
  var sum = 0.0;
  if (slot < nSub) {
    for (var j = slot; j < n; j += nSub) {
      let rb = (j * p.nKv + kh) * NC;
      var part = 0.0;
      for (var i = 0u; i < MAXC; i++) {
        let c = lane + i * sgSize;
        if (c >= NC) { break; }
        let kw = kc[rb + c];
        part += ${dotK};
      }
      let s = subgroupAdd(part);
      let mNew = max(mx, s);
      let corr = exp(mx - mNew);
      let e = exp(s - mNew);
      sum = sum * corr + e;
      for (var i = 0u; i < MAXC; i++) {
        let c = lane + i * sgSize;
        if (c >= NC) { break; }
        let vw = vc[rb + c];
        ${accV}
      }
      mx = mNew;
    }
    // This subgroup's partial softmax: its max, sum and unnormalised output.
    if (lane == leader) { sm[slot] = mx; sl[slot] = sum; }
    for (var i = 0u; i < MAXC; i++) {
      let c = lane + i * sgSize;
      if (c >= NC) { break; }
      for (var v = 0u; v < ${cv}u; v++) { sacc[slot * HD4 + c * ${cv}u + v] = acc[i * ${cv}u + v]; }
    }
  }
  workgroupBarrier();
  // Merge: rescale each subgroup's part to the global max (a subgroup with no keys adds nothing).
  var M = -3.0e38;
  for (var s = 0u; s < nSub; s++) { M = max(M, sm[s]); }
  var total = 0.0;
  for (var s = 0u; s < nSub; s++) { total += select(0.0, sl[s] * exp(sm[s] - M), sl[s] > 0.0); }
  for (var d = lid; d < HD4; d += ${WG}u) {
    var o = vec4f(0.0);
    for (var s = 0u; s < nSub; s++) { o += select(0.0, exp(sm[s] - M), sl[s] > 0.0) * sacc[s * HD4 + d]; }
    out[qb + d] = o / total;
  }
}`;
};

const codes = new Map<string, string>();

export const ATTENTION_CACHED_SUBGROUP: KernelVersion<AttentionCachedArgs> = {
  op: 'attention-cached',
  name: 'attention-cached.subgroup',
  family: 'subgroup',
  features: ['subgroups'],
  workgroupBytes: 4 + 2 * MAXSUB * 4 + MAXSUB * MAX_HD * 4,
  summary: 'a subgroup per key: lanes split the head in 16-byte loads, subgroupAdd for q·k; subgroups merged with one barrier',
  // 16-byte loads: rows of 4 (f32) or 8 (f16) elements; partial outputs of ≤ 128 fit workgroup memory.
  supports: (a) => a.nHeads % a.nKv === 0 && a.headDim <= MAX_HD && a.headDim % (a.kvType === 'f16' ? 8 : 4) === 0,
  record(runner: KernelRunner, pass, a) {
    const key = `${a.headDim}${a.kvType}`;
    let code = codes.get(key);
    if (!code) codes.set(key, (code = kernel(a.headDim, a.kvType)));
    runner.dispatch(
      pass,
      runner.pipeline(code, `attention_cached_subgroup_${a.kvType}`),
      [a.q, a.kCache, a.vCache, a.out],
      params(u32(a.nHeads), u32(a.nKv), u32(a.pos0), f32(1 / Math.sqrt(a.headDim))),
      [a.T, a.nHeads],
    );
  },
};
