// RMSNorm forward and backward (input gradient only: norm weights are frozen).
// One workgroup per row; sums in f32 through a workgroup tree reduction.
import { f32, params, u32, wgslWorkgroupSum, type KernelRunner } from '../kernel.ts';

const WG = 256;

const REDUCE = wgslWorkgroupSum('vec2f', WG);

const FWD = /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
struct P { H: u32, eps: f32 }
@group(0) @binding(3) var<uniform> p: P;
${REDUCE}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let base = wg.x * p.H;
  var ss = 0.0;
  for (var i = l.x; i < p.H; i += ${WG}u) { let v = x[base + i]; ss += v * v; }
  let tot = workgroupSum(vec2f(ss, 0.0), l.x);
  let inv = inverseSqrt(tot.x / f32(p.H) + p.eps);
  for (var i = l.x; i < p.H; i += ${WG}u) { y[base + i] = x[base + i] * inv * w[i]; }
}`;

// With a residual input (the transformer's skip connection), dx = residual + ∂rmsnorm·dy in
// one pass, instead of copying the residual gradient into dx and accumulating.
const bwd = (residual: boolean) => /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
${residual ? '@group(0) @binding(4) var<storage, read> res: array<f32>;' : ''}
struct P { H: u32, eps: f32, accumulate: u32 }
@group(0) @binding(${residual ? 5 : 4}) var<uniform> p: P;
${REDUCE}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let base = wg.x * p.H;
  var ss = 0.0;
  var dot = 0.0;
  for (var i = l.x; i < p.H; i += ${WG}u) {
    let v = x[base + i];
    ss += v * v;
    dot += dy[base + i] * w[i] * v;
  }
  let tot = workgroupSum(vec2f(ss, dot), l.x);
  let inv = inverseSqrt(tot.x / f32(p.H) + p.eps);
  // dx = inv·(dy·w − x̂·mean(dy·w·x̂)), with Σ dy·w·x̂ = inv·Σ dy·w·x
  let c = tot.y * inv * inv / f32(p.H);
  for (var i = l.x; i < p.H; i += ${WG}u) {
    let g = inv * (dy[base + i] * w[i] - x[base + i] * c);
    ${residual ? 'dx[base + i] = res[base + i] + g;' : 'if (p.accumulate == 1u) { dx[base + i] = dx[base + i] + g; } else { dx[base + i] = g; }'}
  }
}`;
const BWD = bwd(false);
const BWD_RESIDUAL = bwd(true);

/** y = rmsnorm(x)·w for T rows of H. */
export function rmsnormForward(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  x: GPUBuffer,
  w: GPUBuffer,
  y: GPUBuffer,
  T: number,
  H: number,
  eps: number,
): void {
  runner.dispatch(pass, runner.pipeline(FWD, 'rmsnorm'), [x, w, y], params(u32(H), f32(eps)), [T]);
}

/** dx (+)= ∂rmsnorm/∂x · dy, or dx = residual + ∂rmsnorm/∂x · dy when `residual` is given (dx ≠ residual). */
export function rmsnormBackward(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  x: GPUBuffer,
  w: GPUBuffer,
  dy: GPUBuffer,
  dx: GPUBuffer,
  T: number,
  H: number,
  eps: number,
  accumulate: boolean,
  residual?: GPUBuffer,
): void {
  if (residual && accumulate) throw new Error('rmsnormBackward: a residual input replaces accumulate, not both');
  runner.dispatch(
    pass,
    residual ? runner.pipeline(BWD_RESIDUAL, 'rmsnorm_bwd_res') : runner.pipeline(BWD, 'rmsnorm_bwd'),
    residual ? [x, w, dy, dx, residual] : [x, w, dy, dx],
    params(u32(H), f32(eps), u32(accumulate ? 1 : 0)),
    [T],
  );
}
