// Elementwise kernels: the residual add, copies, and the SwiGLU gate (forward and backward).
import { FLAT_BUILTINS, flatIndex, grid1d, params, u32, type KernelRunner } from '../kernel.ts';

const WG = 256;

const ADD = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> acc: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
struct P { n: u32 }
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(${WG}) fn main(${FLAT_BUILTINS}) {
  let i = ${flatIndex(WG)};
  if (i < p.n) { acc[i] = acc[i] + x[i]; }
}`;

const COPY = /* wgsl */ `
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
struct P { n: u32 }
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(${WG}) fn main(${FLAT_BUILTINS}) {
  let i = ${flatIndex(WG)};
  if (i < p.n) { dst[i] = src[i]; }
}`;

/** acc += x (n floats). */
export function addInPlace(runner: KernelRunner, pass: GPUComputePassEncoder, acc: GPUBuffer, x: GPUBuffer, n: number): void {
  runner.dispatch(pass, runner.pipeline(ADD, 'add'), [acc, x], params(u32(n)), grid1d(n, WG));
}

/** dst = src (n floats), inside a compute pass. */
export function copyInto(runner: KernelRunner, pass: GPUComputePassEncoder, src: GPUBuffer, dst: GPUBuffer, n: number): void {
  runner.dispatch(pass, runner.pipeline(COPY, 'copy'), [src, dst], params(u32(n)), grid1d(n, WG));
}

const SILU_FWD = /* wgsl */ `
@group(0) @binding(0) var<storage, read> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<storage, read_write> h: array<f32>;
struct P { n: u32 }
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(${WG}) fn main(${FLAT_BUILTINS}) {
  let i = ${flatIndex(WG)};
  if (i >= p.n) { return; }
  let g = gate[i];
  h[i] = g / (1.0 + exp(-g)) * up[i];
}`;

const SILU_BWD = /* wgsl */ `
@group(0) @binding(0) var<storage, read> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<storage, read> dh: array<f32>;
@group(0) @binding(3) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(4) var<storage, read_write> dup: array<f32>;
struct P { n: u32 }
@group(0) @binding(5) var<uniform> p: P;
@compute @workgroup_size(${WG}) fn main(${FLAT_BUILTINS}) {
  let i = ${flatIndex(WG)};
  if (i >= p.n) { return; }
  let g = gate[i];
  let s = 1.0 / (1.0 + exp(-g));
  dup[i] = dh[i] * g * s;
  dgate[i] = dh[i] * up[i] * s * (1.0 + g * (1.0 - s));
}`;

/** h = silu(gate) · up. */
export function siluGateForward(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  gate: GPUBuffer,
  up: GPUBuffer,
  h: GPUBuffer,
  n: number,
): void {
  runner.dispatch(pass, runner.pipeline(SILU_FWD, 'silu_gate'), [gate, up, h], params(u32(n)), grid1d(n, WG));
}

/** dgate, dup from dh (written, not accumulated). */
export function siluGateBackward(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  gate: GPUBuffer,
  up: GPUBuffer,
  dh: GPUBuffer,
  dgate: GPUBuffer,
  dup: GPUBuffer,
  n: number,
): void {
  runner.dispatch(pass, runner.pipeline(SILU_BWD, 'silu_gate_bwd'), [gate, up, dh, dgate, dup], params(u32(n)), grid1d(n, WG));
}
