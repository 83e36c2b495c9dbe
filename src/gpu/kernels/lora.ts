// LoRA on one projection: y += s·drop(x)·Aᵀ·Bᵀ with A [r, in], B [out, r] in f32, and its
// backward (dx, dA, dB). Built from one small f32 matmul kernel with transpose and
// dropout-mask variants; r is small, so one output per thread is enough.
import { f32, params, u32, type KernelRunner } from '../kernel.ts';

export interface Dropout {
  p: number;
  seed: number;
}

/** Where the dropout mask of x (indexed t·in + i) applies in a product. */
type MaskOn = 'none' | 'x' | 'y' | 'out';

// Hash of (seed, index) → keep or drop. Mirrored exactly by `dropoutMask` below.
const HASH = /* wgsl */ `
fn keep(seed: u32, idx: u32, threshold: u32) -> bool {
  var h = idx * 747796405u + seed * 2891336453u + 1u;
  h = ((h >> ((h >> 28u) + 4u)) ^ h) * 277803737u;
  h = (h >> 22u) ^ h;
  return h >= threshold;
}`;

/** C[M,N] (+)= alpha · op(X)·op(Y): X is [M,K] (or [K,M] if transX), Y is [K,N] (or [N,K] if transY). */
const matmul = (transX: boolean, transY: boolean, mask: MaskOn) => /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Y: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
struct P { M: u32, N: u32, K: u32, accumulate: u32, alpha: f32, seed: u32, threshold: u32, keepScale: f32 }
@group(0) @binding(3) var<uniform> p: P;
${HASH}
fn m(idx: u32) -> f32 { return select(0.0, p.keepScale, keep(p.seed, idx, p.threshold)); }
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) g: vec3u) {
  let n = g.x;
  let row = g.y;
  if (n >= p.N || row >= p.M) { return; }
  var acc = 0.0;
  for (var k = 0u; k < p.K; k++) {
    ${transX ? 'var xv = X[k * p.M + row];' : 'var xv = X[row * p.K + k];'}
    ${transY ? 'var yv = Y[n * p.K + k];' : 'var yv = Y[k * p.N + n];'}
    ${mask === 'x' ? 'xv *= m(row * p.K + k);' : ''}
    ${mask === 'y' ? 'yv *= m(k * p.N + n);' : ''}
    acc += xv * yv;
  }
  var v = p.alpha * acc;
  ${mask === 'out' ? 'v *= m(row * p.N + n);' : ''}
  let ci = row * p.N + n;
  if (p.accumulate == 1u) { C[ci] = C[ci] + v; } else { C[ci] = v; }
}`;

function mm(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  variant: { transX: boolean; transY: boolean; mask: MaskOn },
  X: GPUBuffer,
  Y: GPUBuffer,
  C: GPUBuffer,
  M: number,
  N: number,
  K: number,
  alpha: number,
  accumulate: boolean,
  dropout: Dropout | undefined,
): void {
  const mask = dropout ? variant.mask : 'none';
  const code = matmul(variant.transX, variant.transY, mask);
  const p = dropout?.p ?? 0;
  const threshold = Math.min(0xffffffff, Math.round(p * 4294967296));
  runner.dispatch(
    pass,
    runner.pipeline(code, `lora_mm_${+variant.transX}${+variant.transY}${mask}`),
    [X, Y, C],
    params(
      u32(M),
      u32(N),
      u32(K),
      u32(accumulate ? 1 : 0),
      f32(alpha),
      u32(dropout?.seed ?? 0),
      u32(threshold),
      f32(p < 1 ? 1 / (1 - p) : 0),
    ),
    [Math.ceil(N / 8), Math.ceil(M / 8)],
  );
}

/** The dropout mask the kernels use for x [T, inF] (0 or 1/(1−p)), for CPU references. */
export function dropoutMask(seed: number, T: number, inF: number, p: number): Float64Array {
  const threshold = Math.min(0xffffffff, Math.round(p * 4294967296));
  const scale = p < 1 ? 1 / (1 - p) : 0;
  const out = new Float64Array(T * inF);
  for (let idx = 0; idx < out.length; idx++) {
    let h = (Math.imul(idx, 747796405) + Math.imul(seed >>> 0, 2891336453 | 0) + 1) >>> 0;
    h = Math.imul(((h >>> ((h >>> 28) + 4)) ^ h) >>> 0, 277803737) >>> 0;
    h = ((h >>> 22) ^ h) >>> 0;
    out[idx] = h >= threshold ? scale : 0;
  }
  return out;
}

/**
 * xa = drop(x)·Aᵀ ([T, r], kept for backward), then y += scale·xa·Bᵀ.
 */
export function loraForward(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  x: GPUBuffer,
  A: GPUBuffer,
  B: GPUBuffer,
  xa: GPUBuffer,
  y: GPUBuffer,
  T: number,
  inF: number,
  outF: number,
  r: number,
  scale: number,
  dropout?: Dropout,
): void {
  mm(runner, pass, { transX: false, transY: true, mask: 'x' }, x, A, xa, T, r, inF, 1, false, dropout);
  mm(runner, pass, { transX: false, transY: true, mask: 'none' }, xa, B, y, T, outF, r, scale, true, undefined);
}

/** Only xa = drop(x)·Aᵀ: what backward needs when the projection's output is not. */
export function loraProject(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  x: GPUBuffer,
  A: GPUBuffer,
  xa: GPUBuffer,
  T: number,
  inF: number,
  r: number,
  dropout?: Dropout,
): void {
  mm(runner, pass, { transX: false, transY: true, mask: 'x' }, x, A, xa, T, r, inF, 1, false, dropout);
}

/**
 * Given dy [T, out] and xa from the forward: dB += s·dyᵀ·xa; g = dy·B ([T, r], in `dxa`);
 * dA += s·gᵀ·drop(x); dx += s·(g·A)∘mask. Gradients accumulate (gradient accumulation).
 */
export function loraBackward(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  x: GPUBuffer,
  A: GPUBuffer,
  B: GPUBuffer,
  xa: GPUBuffer,
  dy: GPUBuffer,
  dA: GPUBuffer,
  dB: GPUBuffer,
  dx: GPUBuffer,
  dxa: GPUBuffer,
  T: number,
  inF: number,
  outF: number,
  r: number,
  scale: number,
  dropout?: Dropout,
): void {
  mm(runner, pass, { transX: true, transY: false, mask: 'none' }, dy, xa, dB, outF, r, T, scale, true, undefined);
  mm(runner, pass, { transX: false, transY: false, mask: 'none' }, dy, B, dxa, T, r, outF, 1, false, undefined);
  mm(runner, pass, { transX: true, transY: false, mask: 'y' }, dxa, x, dA, r, inF, T, scale, true, dropout);
  mm(runner, pass, { transX: false, transY: false, mask: 'out' }, dxa, A, dx, T, inF, r, scale, true, dropout);
}
