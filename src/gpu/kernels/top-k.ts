// The decoder's sampling kernels, so a token costs a few bytes of read-back instead of the
// whole logits: the repetition penalty applied in place, the k largest logits selected by a
// tournament, and the softmax total a top-p cut needs.
// Selection: the first pass reads 1024 logits per workgroup, sorts them in workgroup memory
// (bitonic) and keeps its k best; each merge pass sorts 1024/k of those lists together and
// keeps k, until one list is left. k = 1 (greedy) is a tree reduction instead of a sort.
// Entries are (f32 bits, id) pairs ordered by value, ties by lower id: the CPU sampler's order.
import { params, u32, f32, wgslWorkgroupSum, type KernelRunner } from '../kernel.ts';

const WG = 256;
/** Entries one selection workgroup reads. */
export const SLICE = 1024;

const ORDER = /* wgsl */ `
const PAD = vec2u(0xff800000u, 0xffffffffu); // -inf, after every real id
fn before(a: vec2u, b: vec2u) -> bool {
  let x = bitcast<f32>(a.x);
  let y = bitcast<f32>(b.x);
  return x > y || (x == y && a.y < b.y);
}`;

const select = (k: number, fromLogits: boolean) => /* wgsl */ `
@group(0) @binding(0) var<storage, read> src: array<${fromLogits ? 'u32' : 'vec2u'}>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec2u>;
struct P { n: u32 }
@group(0) @binding(2) var<uniform> p: P;
const K: u32 = ${k}u;
${ORDER}
fn load(i: u32) -> vec2u {
  if (i >= p.n) { return PAD; }
  return ${fromLogits ? 'vec2u(src[i], i)' : 'src[i]'};
}
${
  k === 1
    ? /* wgsl */ `
var<workgroup> red: array<vec2u, ${WG}>;
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lidv: vec3u) {
  let lid = lidv.x;
  var best = PAD;
  for (var e = lid; e < ${SLICE}u; e += ${WG}u) {
    let c = load(wg.x * ${SLICE}u + e);
    if (before(c, best)) { best = c; }
  }
  red[lid] = best;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s && before(red[lid + s], red[lid])) { red[lid] = red[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { dst[wg.x] = red[0]; }
}`
    : /* wgsl */ `
var<workgroup> keys: array<vec2u, ${SLICE}>;
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lidv: vec3u) {
  let lid = lidv.x;
  for (var e = lid; e < ${SLICE}u; e += ${WG}u) { keys[e] = load(wg.x * ${SLICE}u + e); }
  workgroupBarrier();
  for (var size = 2u; size <= ${SLICE}u; size <<= 1u) {
    for (var stride = size >> 1u; stride > 0u; stride >>= 1u) {
      for (var t = lid; t < ${SLICE / 2}u; t += ${WG}u) {
        let i = 2u * stride * (t / stride) + t % stride;
        let a = keys[i];
        let b = keys[i + stride];
        // Blocks with bit 'size' clear end best-first; the last round makes the whole slice so.
        let up = (i & size) == 0u;
        if (select(before(a, b), before(b, a), up)) {
          keys[i] = b;
          keys[i + stride] = a;
        }
      }
      workgroupBarrier();
    }
  }
  for (var e = lid; e < K; e += ${WG}u) { dst[wg.x * K + e] = keys[e]; }
}`
}`;

const PENALIZE = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> logits: array<f32>;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
struct P { n: u32, pen: f32, inv: f32 }
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < p.n) {
    let t = ids[gid.x];
    let l = logits[t];
    logits[t] = select(l * p.pen, l * p.inv, l > 0.0);
  }
}`;

const SUM_EXP = /* wgsl */ `
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> best: array<vec2u>;
@group(0) @binding(2) var<storage, read_write> total: array<f32>;
struct P { n: u32, temperature: f32 }
@group(0) @binding(3) var<uniform> p: P;
${wgslWorkgroupSum('f32', WG)}
@compute @workgroup_size(${WG}) fn main(@builtin(local_invocation_id) lidv: vec3u) {
  let lid = lidv.x;
  let mx = bitcast<f32>(best[0].x);
  var s = 0.0;
  for (var i = lid; i < p.n; i += ${WG}u) { s += exp((logits[i] - mx) / p.temperature); }
  let t = workgroupSum(s, lid);
  if (lid == 0u) { total[0] = t; }
}`;

const codes = new Map<string, string>();
function code(k: number, fromLogits: boolean): string {
  const key = `${k}${fromLogits}`;
  let c = codes.get(key);
  if (!c) codes.set(key, (c = select(k, fromLogits)));
  return c;
}

/** Entries each selection list holds for a request of k: 1, or a power of two ≥ k (≤ SLICE / 4). */
export function listSize(k: number): number {
  if (k < 1 || k > SLICE / 4) throw new RangeError(`top-k selection takes 1 ≤ k ≤ ${SLICE / 4}, got ${k}`);
  let K = 1;
  while (K < k) K *= 2;
  return K;
}

/** Workgroups of the first selection pass over n logits (sizes the list buffers). */
export const firstPassGroups = (n: number) => Math.ceil(n / SLICE);

/**
 * Records the selection of the K = listSize(k) largest of n logits, best first, into `a` or
 * `b` (each ≥ firstPassGroups(n)·K entries of 8 bytes); returns the buffer holding the list.
 */
export function topKSelect(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  logits: GPUBuffer,
  n: number,
  k: number,
  a: GPUBuffer,
  b: GPUBuffer,
): GPUBuffer {
  const K = listSize(k);
  let groups = firstPassGroups(n);
  runner.dispatch(pass, runner.pipeline(code(K, true), `top${K}_first`), [logits, a], params(u32(n)), [groups]);
  let [src, dst] = [a, b];
  while (groups > 1) {
    const entries = groups * K;
    groups = Math.ceil(entries / SLICE);
    runner.dispatch(pass, runner.pipeline(code(K, false), `top${K}_merge`), [src, dst], params(u32(entries)), [groups]);
    [src, dst] = [dst, src];
  }
  return src;
}

/** Multiplies logits[ids[i]] by 1/penalty where positive, by penalty where not (i < n). */
export function repetitionPenalty(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  logits: GPUBuffer,
  ids: GPUBuffer,
  n: number,
  penalty: number,
): void {
  if (n === 0) return;
  runner.dispatch(pass, runner.pipeline(PENALIZE, 'repetition_penalty'), [logits, ids], params(u32(n), f32(penalty), f32(1 / penalty)), [
    Math.ceil(n / 64),
  ]);
}

/** total[0] = Σ exp((logits[i] − best)/temperature), best the first entry of a selected list. */
export function softmaxTotal(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  logits: GPUBuffer,
  list: GPUBuffer,
  total: GPUBuffer,
  n: number,
  temperature: number,
): void {
  runner.dispatch(pass, runner.pipeline(SUM_EXP, 'softmax_total'), [logits, list, total], params(u32(n), f32(temperature)), [1]);
}
