// The LM head fused with cross-entropy, chunked by tokens. For each chunk of tokens the
// logits [chunk, vocab] are computed once (the registry's linear versions over the head's
// weight chunks), then one workgroup per token folds its row into the log-sum-exp and
// the loss and, when training, turns the row into dlogits = gradScale·(softmax − onehot)
// in place, and d(x) for the chunk's rows = dlogits·W (the registry's input-gradient
// versions). So the head's forward GEMM runs once per micro-batch, its gradient GEMM once,
// and backward starts from d(x): [T, vocab] never exists, only [chunk, vocab].
// dlogits are written as gradScale·S·(softmax − onehot), with S a power of two that puts
// gradScale·S in (512, 1024], and d(x) multiplied by 1/S once at the end: gradScale·softmax
// (≈ 1e-9 for a 152k vocabulary and 1/(1,000 tokens × 8 micro-batches)) would underflow
// f16, which the tiled-f16 gradient GEMM reads dlogits as. Scaling by a power of two is
// exact, so the f32 versions compute bit for bit what they would unscaled.
import type { GpuMemory } from '../memory.ts';
import { headChunkTokens } from '../buffers-plan.ts';
import { f32, FLAT_BUILTINS, flatIndex, grid1d, params, u32, wgslWorkgroupSum, type Binding, type KernelRunner } from '../kernel.ts';
import type { WeightTensor } from '../weights.ts';
import { linearCall, linearDxCall } from './linear.ts';

export interface LossScratch {
  /** [chunk, vocab] logits of one chunk of tokens (dlogits in place when training). */
  logits: GPUBuffer;
  /** Tokens per chunk (buffers-plan.ts `headChunkTokens`). */
  chunk: number;
}

/** Scratch for chunks of up to T tokens (the Transformer allocates the same through buffers-plan.ts). */
export function createLossScratch(memory: GpuMemory, T: number, vocab: number, hidden: number, chunk?: number): LossScratch {
  const n = chunk ?? headChunkTokens(T, vocab, hidden);
  return { logits: memory.buffer('scratch', n * vocab * 4, 'ce.logits'), chunk: n };
}

const WG = 256;
/** S for a gradient scale: gradScale·S in (512, 1024], in f16's range with |(p − 1)·gradScale·S·w| far below its max. */
function dlogitsScale(gradScale: number): number {
  if (!(gradScale > 0) || !Number.isFinite(gradScale)) return 1;
  return 2 ** Math.max(-100, Math.min(100, 10 - Math.ceil(Math.log2(gradScale))));
}

/**
 * One workgroup per token row of the chunk: online max and sum of exp per thread, merged
 * in workgroup memory; loss = lse − logit[target] (0 where target < 0); with `grad`, the
 * row becomes scale·(softmax − onehot), all zeros where masked.
 */
const LOSS_ROWS = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read_write> losses: array<f32>;
struct P { V: u32, t0: u32, grad: u32, scale: f32 }
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> mx: array<f32, ${WG}>;
var<workgroup> sm: array<f32, ${WG}>;
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let base = wg.x * p.V;
  let tg = targets[p.t0 + wg.x];
  // Read before any thread overwrites the row with its gradient.
  let tl = select(0.0, logits[base + u32(max(tg, 0))], tg >= 0);
  var m = -3.0e38;
  var s = 0.0;
  for (var j = l.x; j < p.V; j += ${WG}u) {
    let v = logits[base + j];
    if (v > m) { s = s * exp(m - v) + 1.0; m = v; } else { s += exp(v - m); }
  }
  mx[l.x] = m;
  sm[l.x] = s;
  workgroupBarrier();
  for (var k = ${WG / 2}u; k > 0u; k >>= 1u) {
    if (l.x < k) {
      let m1 = mx[l.x];
      let m2 = mx[l.x + k];
      let mm = max(m1, m2);
      sm[l.x] = sm[l.x] * exp(m1 - mm) + sm[l.x + k] * exp(m2 - mm);
      mx[l.x] = mm;
    }
    workgroupBarrier();
  }
  let lse = mx[0] + log(sm[0]);
  if (l.x == 0u) { losses[p.t0 + wg.x] = select(0.0, lse - tl, tg >= 0); }
  if (p.grad == 0u) { return; }
  for (var j = l.x; j < p.V; j += ${WG}u) {
    var d = 0.0;
    if (tg >= 0) {
      d = exp(logits[base + j] - lse);
      if (u32(tg) == j) { d -= 1.0; }
    }
    logits[base + j] = d * p.scale;
  }
}`;

const SCALE = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
struct P { n: u32, s: f32 }
@group(0) @binding(1) var<uniform> p: P;
@compute @workgroup_size(256) fn main(${FLAT_BUILTINS}) {
  let i = ${flatIndex(256)};
  if (i < p.n) { x[i] = x[i] * p.s; }
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

export interface LmHeadLossArgs {
  /** [T, hidden] f32: the final normed hidden state. */
  x: GPUBuffer;
  W: WeightTensor;
  /** [T] i32: the id to predict, or −1 (not counted, zero gradient). */
  targets: GPUBuffer;
  /** [T] f32 out: per-token losses (0 where masked). */
  losses: GPUBuffer;
  T: number;
  scratch: LossScratch;
  /** Training: dx [T, hidden] ← ∂(scale · Σ token losses)/∂x, computed chunk by chunk here. */
  grad?: { scale: number; dx: GPUBuffer };
}

/**
 * losses[t] = −log softmax(x[t]·Wᵀ)[targets[t]] (0 where targets[t] < 0), and with `grad`
 * the input gradient, each chunk's logits computed once. A chunk's rows of x and dx are
 * bound in place (headChunkTokens keeps their offsets 256-byte aligned).
 */
export function lmHeadLoss(runner: KernelRunner, pass: GPUComputePassEncoder, a: LmHeadLossArgs): void {
  const { W, T } = a;
  const V = W.rows;
  const H = W.cols;
  const { logits, chunk } = a.scratch;
  const align = runner.device.limits.minStorageBufferOffsetAlignment;
  if (chunk < T && (chunk * H * 4) % align !== 0)
    throw new RangeError(`LM head chunks of ${chunk} tokens × ${H} floats are not ${align}-byte aligned; size them with headChunkTokens`);
  const rows = (b: GPUBuffer, t0: number, n: number): Binding => (n === T ? b : { buffer: b, offset: t0 * H * 4, size: n * H * 4 });
  const S = a.grad ? dlogitsScale(a.grad.scale) : 1;
  for (let t0 = 0; t0 < T; t0 += chunk) {
    const n = Math.min(chunk, T - t0);
    const x = rows(a.x, t0, n);
    for (const c of W.chunks) {
      const band = { buffer: c.buffer, bufferRow: 0, rows: c.rows };
      linearCall(runner, pass, { x, W, band, y: logits, yStride: V, yCol0: c.rowStart, T: n, accumulate: false });
    }
    runner.dispatch(
      pass,
      runner.pipeline(LOSS_ROWS, 'ce_rows'),
      [logits, a.targets, a.losses],
      params(u32(V), u32(t0), u32(a.grad ? 1 : 0), f32((a.grad?.scale ?? 0) * S)),
      [n],
    );
    if (!a.grad) continue;
    const dx = rows(a.grad.dx, t0, n);
    W.chunks.forEach((c, i) => {
      const band = { buffer: c.buffer, bufferRow: 0, rows: c.rows };
      linearDxCall(runner, pass, { dy: logits, dyStride: V, dyCol0: c.rowStart, W, band, dx, T: n, accumulate: i > 0 });
    });
  }
  if (a.grad) {
    const scale = params(u32(T * H), f32(1 / S));
    runner.dispatch(pass, runner.pipeline(SCALE, 'ce_dx_scale'), [a.grad.dx], scale, grid1d(T * H, 256));
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
