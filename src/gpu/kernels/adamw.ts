// The optimizer on LoRA parameters: global gradient norm (deterministic two-stage sum,
// no float atomics) and AdamW with the clip factor computed in-shader from that norm,
// so a step needs no CPU readback.
import { f32, params, u32, FLAT_BUILTINS, flatIndex, grid1d, wgslWorkgroupSum, type KernelRunner } from '../kernel.ts';

const PARTIAL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
struct P { n: u32, slot: u32 }
@group(0) @binding(2) var<uniform> p: P;
${wgslWorkgroupSum('f32', 256)}
@compute @workgroup_size(256) fn main(@builtin(local_invocation_id) l: vec3u) {
  var acc = 0.0;
  for (var i = l.x; i < p.n; i += 256u) { acc += g[i] * g[i]; }
  let total = workgroupSum(acc, l.x);
  if (l.x == 0u) { partials[p.slot] = total; }
}`;

const TOTAL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
struct P { n: u32 }
@group(0) @binding(2) var<uniform> p: P;
${wgslWorkgroupSum('f32', 256)}
@compute @workgroup_size(256) fn main(@builtin(local_invocation_id) l: vec3u) {
  var acc = 0.0;
  for (var i = l.x; i < p.n; i += 256u) { acc += partials[i]; }
  let total = workgroupSum(acc, l.x);
  if (l.x == 0u) { out[0] = sqrt(total); }
}`;

/**
 * out[0] = ‖all grads‖₂. `partials` needs one float per gradient buffer.
 */
export function gradNorm(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  grads: Array<{ buffer: GPUBuffer; n: number }>,
  partials: GPUBuffer,
  out: GPUBuffer,
): void {
  for (const [slot, g] of grads.entries()) {
    runner.dispatch(pass, runner.pipeline(PARTIAL, 'gradnorm_partial'), [g.buffer, partials], params(u32(g.n), u32(slot)), [1]);
  }
  runner.dispatch(pass, runner.pipeline(TOTAL, 'gradnorm_total'), [partials, out], params(u32(grads.length)), [1]);
}

const WG = 256;
const ADAMW = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> norm: array<f32>;
struct P { n: u32, lr: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32, bc1: f32, bc2: f32, maxNorm: f32 }
@group(0) @binding(5) var<uniform> p: P;
@compute @workgroup_size(${WG}) fn main(${FLAT_BUILTINS}) {
  let i = ${flatIndex(WG)};
  if (i >= p.n) { return; }
  let clip = select(1.0, min(1.0, p.maxNorm / (norm[0] + 1e-6)), p.maxNorm > 0.0);
  let g = grad[i] * clip;
  var w = param[i];
  w -= p.lr * p.weightDecay * w;
  let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
  let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  param[i] = w - p.lr * (mi / p.bc1) / (sqrt(vi / p.bc2) + p.eps);
}`;

export interface AdamWSettings {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count (bias correction). */
  step: number;
  /** Clip the global gradient norm to this (≤ 0: no clipping); `norm` holds the norm. */
  maxNorm: number;
}

/** One AdamW update of n parameters (PyTorch semantics, decoupled weight decay). */
export function adamwStep(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  param: GPUBuffer,
  grad: GPUBuffer,
  m: GPUBuffer,
  v: GPUBuffer,
  norm: GPUBuffer,
  n: number,
  o: AdamWSettings,
): void {
  const bc1 = 1 - o.beta1 ** o.step;
  const bc2 = 1 - o.beta2 ** o.step;
  runner.dispatch(
    pass,
    runner.pipeline(ADAMW, 'adamw'),
    [param, grad, m, v, norm],
    params(u32(n), f32(o.lr), f32(o.beta1), f32(o.beta2), f32(o.eps), f32(o.weightDecay), f32(bc1), f32(bc2), f32(o.maxNorm)),
    grid1d(n, WG),
  );
}
