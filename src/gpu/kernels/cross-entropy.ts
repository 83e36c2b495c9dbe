// The LM head fused with cross-entropy. The vocabulary is walked in tiles: each tile's
// logits [T, tile] are computed into scratch and folded into a per-token online
// log-sum-exp (running max, running sum, target logit), so [T, vocab] never exists.
// Backward recomputes each tile's logits and turns them into dx without storing them.
import type { GpuMemory } from '../memory.ts';
import { lossTileRows } from '../buffers-plan.ts';
import { f32, params, u32, wgslWorkgroupSum, type KernelRunner } from '../kernel.ts';
import type { WeightTensor } from '../weights.ts';
import { linearBandBackward, linearBandForward, type RowBand } from './linear.ts';

export interface LossScratch {
  /** [T, tile] logits of one vocabulary tile. */
  logits: GPUBuffer;
  /** [T, 4]: running max, running sum of exp, target logit, final log-sum-exp. */
  state: GPUBuffer;
  tile: number;
}

/** Scratch for up to T tokens (the Transformer allocates the same through buffers-plan.ts). */
export function createLossScratch(memory: GpuMemory, T: number, tile?: number): LossScratch {
  const t = tile ?? lossTileRows(T);
  return {
    logits: memory.buffer('scratch', T * t * 4, 'ce.logits'),
    state: memory.buffer('scratch', T * 16, 'ce.state'),
    tile: t,
  };
}

const WG = 64;

const FOLD = /* wgsl */ `
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read_write> state: array<vec4f>;
struct P { T: u32, n: u32, col0: u32, first: u32 }
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) g: vec3u) {
  let t = g.x;
  if (t >= p.T) { return; }
  var s = state[t];
  if (p.first == 1u) { s = vec4f(-3.0e38, 0.0, 0.0, 0.0); }
  var mx = s.x;
  for (var j = 0u; j < p.n; j++) { mx = max(mx, logits[t * p.n + j]); }
  var sum = s.y * exp(s.x - mx);
  for (var j = 0u; j < p.n; j++) { sum += exp(logits[t * p.n + j] - mx); }
  let tg = targets[t];
  if (tg >= i32(p.col0) && tg < i32(p.col0 + p.n)) { s.z = logits[t * p.n + u32(tg) - p.col0]; }
  state[t] = vec4f(mx, sum, s.z, mx + log(sum));
}`;

const FINISH = /* wgsl */ `
@group(0) @binding(0) var<storage, read> state: array<vec4f>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read_write> losses: array<f32>;
struct P { T: u32 }
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) g: vec3u) {
  let t = g.x;
  if (t >= p.T) { return; }
  losses[t] = select(0.0, state[t].w - state[t].z, targets[t] >= 0);
}`;

/** logits ← (softmax − onehot)·gradScale for one tile, in place; masked rows → 0. */
const DLOGITS = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read> state: array<vec4f>;
struct P { T: u32, n: u32, col0: u32, gradScale: f32 }
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(${WG}, 4) fn main(@builtin(global_invocation_id) g: vec3u) {
  let j = g.x;
  let t = g.y;
  if (j >= p.n || t >= p.T) { return; }
  let tg = targets[t];
  let i = t * p.n + j;
  if (tg < 0) { logits[i] = 0.0; return; }
  var d = exp(logits[i] - state[t].w);
  if (u32(tg) == p.col0 + j) { d -= 1.0; }
  logits[i] = d * p.gradScale;
}`;

const SUM = /* wgsl */ `
@group(0) @binding(0) var<storage, read> losses: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
struct P { T: u32 }
@group(0) @binding(3) var<uniform> p: P;
${wgslWorkgroupSum('vec2f', 256)}
@compute @workgroup_size(256) fn main(@builtin(local_invocation_id) l: vec3u) {
  var acc = vec2f(0.0);
  for (var t = l.x; t < p.T; t += 256u) {
    if (targets[t] >= 0) { acc += vec2f(losses[t], 1.0); }
  }
  let total = workgroupSum(acc, l.x);
  if (l.x == 0u) { out[0] = select(0.0, total.x / total.y, total.y > 0.0); }
}`;

/** Vocabulary tiles: bands of rows inside W's chunks, at most `tile` rows each. */
function* tiles(W: WeightTensor, tile: number): Generator<{ band: RowBand; col0: number }> {
  for (const c of W.chunks)
    for (let r = 0; r < c.rows; r += tile)
      yield { band: { buffer: c.buffer, bufferRow: r, rows: Math.min(tile, c.rows - r) }, col0: c.rowStart + r };
}

/** losses[t] = −log softmax(x[t]·Wᵀ)[targets[t]] (0 where targets[t] < 0). */
export function lmHeadLossForward(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  x: GPUBuffer,
  W: WeightTensor,
  targets: GPUBuffer,
  losses: GPUBuffer,
  T: number,
  s: LossScratch,
): void {
  let first = true;
  for (const { band, col0 } of tiles(W, s.tile)) {
    linearBandForward(runner, pass, x, W, band, undefined, s.logits, band.rows, 0, T, false);
    runner.dispatch(
      pass,
      runner.pipeline(FOLD, 'ce_fold'),
      [s.logits, targets, s.state],
      params(u32(T), u32(band.rows), u32(col0), u32(first ? 1 : 0)),
      [Math.ceil(T / WG)],
    );
    first = false;
  }
  runner.dispatch(pass, runner.pipeline(FINISH, 'ce_finish'), [s.state, targets, losses], params(u32(T)), [Math.ceil(T / WG)]);
}

/** dx = ∂(gradScale · Σ token losses)/∂x, using the log-sum-exp the forward left in scratch. */
export function lmHeadLossBackward(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  x: GPUBuffer,
  W: WeightTensor,
  targets: GPUBuffer,
  s: LossScratch,
  gradScale: number,
  dx: GPUBuffer,
  T: number,
): void {
  let first = true;
  for (const { band, col0 } of tiles(W, s.tile)) {
    linearBandForward(runner, pass, x, W, band, undefined, s.logits, band.rows, 0, T, false);
    runner.dispatch(
      pass,
      runner.pipeline(DLOGITS, 'ce_dlogits'),
      [s.logits, targets, s.state],
      params(u32(T), u32(band.rows), u32(col0), f32(gradScale)),
      [Math.ceil(band.rows / WG), Math.ceil(T / 4)],
    );
    linearBandBackward(runner, pass, s.logits, band.rows, 0, W, band, dx, T, !first);
    first = false;
  }
}

/** out[0] = mean of losses over positions with targets ≥ 0 (0 if none). */
export function sumLosses(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  losses: GPUBuffer,
  targets: GPUBuffer,
  out: GPUBuffer,
  T: number,
): void {
  runner.dispatch(pass, runner.pipeline(SUM, 'ce_mean'), [losses, targets, out], params(u32(T)), [1]);
}
