// LoRA: y += s·drop(x)·Aᵀ·Bᵀ with A [r, in], B [out, r] in f32, and its backward (dx, dA,
// dB). Two forms:
// - per projection (`loraForward`, `loraBackward`: decoding and the tests' reference
//   point), built from one small f32 matmul kernel with transpose and dropout variants;
// - grouped, for training: the targets that read the same input (q/k/v read xn, gate/up
//   read xn2) share one dispatch for xa = drop(x)·Aᵀ, one for g = dy·B, one for dB and one
//   for dA; the two products that touch the big dimension twice (s·xa·Bᵀ into y and
//   s·(g·A)∘mask into dx) ride in the base GEMM's epilogue (linear.ts, matmul-tiled.ts:
//   `LoraUp`, `LoraDown`). A group's A and B stay separate buffers, bound side by side
//   (≤ 3 per group, so ≤ 7 storage bindings, under maxStorageBuffersPerShaderStage = 8),
//   rather than one concatenated buffer: the adapter's layout, the optimizer, save/load
//   and the decoder stay as they are, and nothing needs 256-byte-aligned sub-ranges.
// LoRA math is f32 in every GEMM version (also tiled-f16): A and B are the trained f32
// masters, and r is small (r FMAs per output against the GEMM's K), so one output per
// thread is enough in the grouped kernels.
import { f32, params, u32, type KernelRunner } from '../kernel.ts';

export interface Dropout {
  p: number;
  seed: number;
}

/** Where the dropout mask of x (indexed t·in + i) applies in a product. */
type MaskOn = 'none' | 'x' | 'y' | 'out';

// Hash of (seed, index) → keep or drop. Mirrored exactly by `dropoutMask` below.
export const HASH = /* wgsl */ `
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

/** The uniform words of a dropout (threshold on the hash, and the kept inputs' scale). */
function dropWords(p: number): { threshold: number; keepScale: number } {
  return { threshold: Math.min(0xffffffff, Math.round(p * 4294967296)), keepScale: p < 1 ? 1 / (1 - p) : 0 };
}

// ---- LoRA in a linear GEMM's epilogue (every version of linear.ts / matmul-tiled.ts) ----

/** Forward epilogue: y[t, n] += scale·Σ_j xa[t·stride + col0 + j]·B[(row0 + n)·r + j]. */
export interface LoraUp {
  xa: GPUBuffer;
  stride: number;
  col0: number;
  B: GPUBuffer;
  /** B's row for the band's first output. */
  row0: number;
  r: number;
  scale: number;
}

/** Input-gradient epilogue: dx[t, k] += scale·(Σ_j g[t·stride + col0 + j]·A[j·width + k])·mask(t·width + k). */
export interface LoraDown {
  g: GPUBuffer;
  stride: number;
  col0: number;
  A: GPUBuffer;
  /** The projection's input width (dx's row length, A's row length). */
  width: number;
  r: number;
  scale: number;
  dropout?: Dropout;
}

/** WGSL struct fields appended to a GEMM's parameters when it carries a LoRA epilogue. */
export const LORA_EPILOGUE_FIELDS =
  'lr: u32, lscale: f32, lstride: u32, lcol0: u32, lrow0: u32, lwidth: u32, lseed: u32, lthresh: u32, lkeep: f32, lmask: u32, lcol1: u32';

/** The uniform words for LORA_EPILOGUE_FIELDS (zeros when there is no epilogue). */
export function loraEpilogueWords(e: LoraUp | LoraDown | undefined, pair?: LoraUp): Array<{ u32: number } | { f32: number }> {
  if (!e) return [u32(0), f32(0), u32(0), u32(0), u32(0), u32(0), u32(0), u32(0), f32(0), u32(0), u32(0)];
  const d = 'A' in e ? e.dropout : undefined;
  const w = dropWords(d?.p ?? 0);
  return [
    u32(e.r),
    f32(e.scale),
    u32(e.stride),
    u32(e.col0),
    u32('row0' in e ? e.row0 : 0),
    u32('width' in e ? e.width : 0),
    u32(d?.seed ?? 0),
    u32(w.threshold),
    f32(w.keepScale),
    u32(d ? 1 : 0),
    u32(pair?.col0 ?? 0),
  ];
}

/** A paired GEMM's second LoRA term (`loraTerm2`): the same xa, its own column offset (lcol1) and B. */
export function wgslLoraUpPair(binding: number): string {
  return /* wgsl */ `
@group(0) @binding(${binding}) var<storage, read> lB2: array<f32>;
fn loraTerm2(t: u32, n: u32) -> f32 {
  var s = 0.0;
  let xb = t * p.lstride + p.lcol1;
  let bb = (p.lrow0 + n) * p.lr;
  for (var j = 0u; j < p.lr; j++) { s += lxa[xb + j] * lB2[bb + j]; }
  return p.lscale * s;
}`;
}

/** The storage buffers the epilogue binds, after the GEMM's own. */
export function loraEpilogueBuffers(e: LoraUp | LoraDown): GPUBuffer[] {
  return 'A' in e ? [e.g, e.A] : [e.xa, e.B];
}

/** WGSL of `fn loraTerm(t, n) -> f32` and its two bindings (from `binding`); the uniform is `p`. */
export function wgslLoraEpilogue(kind: 'up' | 'down', binding: number): string {
  if (kind === 'up')
    return /* wgsl */ `
@group(0) @binding(${binding}) var<storage, read> lxa: array<f32>;
@group(0) @binding(${binding + 1}) var<storage, read> lB: array<f32>;
fn loraTerm(t: u32, n: u32) -> f32 {
  var s = 0.0;
  let xb = t * p.lstride + p.lcol0;
  let bb = (p.lrow0 + n) * p.lr;
  for (var j = 0u; j < p.lr; j++) { s += lxa[xb + j] * lB[bb + j]; }
  return p.lscale * s;
}`;
  return /* wgsl */ `
@group(0) @binding(${binding}) var<storage, read> lg: array<f32>;
@group(0) @binding(${binding + 1}) var<storage, read> lA: array<f32>;
${HASH}
fn loraTerm(t: u32, k: u32) -> f32 {
  var s = 0.0;
  let gb = t * p.lstride + p.lcol0;
  for (var j = 0u; j < p.lr; j++) { s += lg[gb + j] * lA[j * p.lwidth + k]; }
  var v = p.lscale * s;
  if (p.lmask != 0u) { v *= select(0.0, p.lkeep, keep(p.lseed, t * p.lwidth + k, p.lthresh)); }
  return v;
}`;
}

// ---- Grouped LoRA products: one dispatch for all targets of a group ----

/** One target of a group: its parameters and dropout. */
export interface LoraMember {
  A: GPUBuffer;
  B: GPUBuffer;
  dA: GPUBuffer;
  dB: GPUBuffer;
  outF: number;
  dropout?: Dropout;
}

const MAX_GROUP = 3;

function checkGroup(m: readonly LoraMember[]): void {
  if (m.length < 1 || m.length > MAX_GROUP) throw new Error(`a LoRA group has 1..${MAX_GROUP} targets, got ${m.length}`);
  if (m.some((x) => !!x.dropout !== !!m[0].dropout)) throw new Error('dropout is on for every target of a LoRA group or for none');
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const binds = (name: string, from: number, n: number, access: 'read' | 'read_write') =>
  range(n)
    .map((i) => `@group(0) @binding(${from + i}) var<storage, ${access}> ${name}${i}: array<f32>;`)
    .join('\n');
const seeds = (m: readonly LoraMember[]) => range(MAX_GROUP).map((i) => u32(m[i]?.dropout?.seed ?? 0));

/** xa[t, i·r + j] = Σ_k drop_i(x)[t, k]·A_i[j, k] for every target i of the group. */
const projectCode = (G: number, mask: boolean) => /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
${binds('A', 1, G, 'read')}
@group(0) @binding(${G + 1}) var<storage, read_write> xa: array<f32>;
struct P { T: u32, K: u32, r: u32, G: u32, threshold: u32, keepScale: f32, s0: u32, s1: u32, s2: u32 }
@group(0) @binding(${G + 2}) var<uniform> p: P;
${HASH}
fn m(seed: u32, idx: u32) -> f32 { return select(0.0, p.keepScale, keep(seed, idx, p.threshold)); }
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) g: vec3u) {
  let n = g.x;
  let row = g.y;
  if (n >= p.G * p.r || row >= p.T) { return; }
  let i = n / p.r;
  let j = n % p.r;
  var acc = 0.0;
  ${range(G)
    .map(
      (i) => `if (i == ${i}u) {
    for (var k = 0u; k < p.K; k++) {
      var xv = x[row * p.K + k];
      ${mask ? `xv *= m(p.s${i}, row * p.K + k);` : ''}
      acc += xv * A${i}[j * p.K + k];
    }
  }`,
    )
    .join(' else ')}
  xa[row * p.G * p.r + n] = acc;
}`;

/** xa [T, G·r] = drop_i(x)·A_iᵀ for each target i of the group: one dispatch. */
export function loraProjectGroup(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  x: GPUBuffer,
  members: readonly LoraMember[],
  xa: GPUBuffer,
  T: number,
  inF: number,
  r: number,
): void {
  checkGroup(members);
  const G = members.length;
  const mask = !!members[0].dropout;
  const w = dropWords(members[0].dropout?.p ?? 0);
  runner.dispatch(
    pass,
    runner.pipeline(projectCode(G, mask), `lora_project_g${G}${mask ? '_drop' : ''}`),
    [x, ...members.map((m) => m.A), xa],
    params(u32(T), u32(inF), u32(r), u32(G), u32(w.threshold), f32(w.keepScale), ...seeds(members)),
    [Math.ceil((G * r) / 8), Math.ceil(T / 8)],
  );
}

/** g[t, i·r + j] = Σ_o dy_i[t, o]·B_i[o, j]. */
const gradCode = (G: number) => /* wgsl */ `
${binds('dy', 0, G, 'read')}
${binds('B', G, G, 'read')}
@group(0) @binding(${2 * G}) var<storage, read_write> gOut: array<f32>;
struct P { T: u32, r: u32, G: u32, o0: u32, o1: u32, o2: u32 }
@group(0) @binding(${2 * G + 1}) var<uniform> p: P;
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) g: vec3u) {
  let n = g.x;
  let row = g.y;
  if (n >= p.G * p.r || row >= p.T) { return; }
  let i = n / p.r;
  let j = n % p.r;
  var acc = 0.0;
  ${range(G)
    .map(
      (i) => `if (i == ${i}u) {
    for (var o = 0u; o < p.o${i}; o++) { acc += dy${i}[row * p.o${i} + o] * B${i}[o * p.r + j]; }
  }`,
    )
    .join(' else ')}
  gOut[row * p.G * p.r + n] = acc;
}`;

/** g [T, G·r] = dy_i·B_i for each target i (the dx epilogue and dA read it): one dispatch. */
export function loraGradGroup(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  members: readonly LoraMember[],
  dys: readonly GPUBuffer[],
  g: GPUBuffer,
  T: number,
  r: number,
): void {
  checkGroup(members);
  const G = members.length;
  const outs = range(MAX_GROUP).map((i) => u32(members[i]?.outF ?? 0));
  runner.dispatch(
    pass,
    runner.pipeline(gradCode(G), `lora_grad_g${G}`),
    [...dys, ...members.map((m) => m.B), g],
    params(u32(T), u32(r), u32(G), ...outs),
    [Math.ceil((G * r) / 8), Math.ceil(T / 8)],
  );
}

/** dB_i[o, j] += scale·Σ_t dy_i[t, o]·xa[t, i·r + j]; rows of all targets side by side. */
const dBCode = (G: number) => /* wgsl */ `
${binds('dy', 0, G, 'read')}
@group(0) @binding(${G}) var<storage, read> xa: array<f32>;
${binds('dB', G + 1, G, 'read_write')}
struct P { T: u32, r: u32, G: u32, scale: f32, o0: u32, o1: u32, o2: u32 }
@group(0) @binding(${2 * G + 1}) var<uniform> p: P;
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) g: vec3u) {
  let j = g.x;
  var o = g.y;
  if (j >= p.r || o >= p.o0 + p.o1 + p.o2) { return; }
  var i = 0u;
  var outF = p.o0;
  if (o >= p.o0) { o -= p.o0; i = 1u; outF = p.o1; if (o >= p.o1) { o -= p.o1; i = 2u; outF = p.o2; } }
  let xc = i * p.r + j;
  let xs = p.G * p.r;
  var acc = 0.0;
  ${range(G)
    .map(
      (i) => `if (i == ${i}u) {
    for (var t = 0u; t < p.T; t++) { acc += dy${i}[t * outF + o] * xa[t * xs + xc]; }
    dB${i}[o * p.r + j] = dB${i}[o * p.r + j] + p.scale * acc;
  }`,
    )
    .join(' else ')}
}`;

/** dB_i += scale·dy_iᵀ·xa_i for each target i (accumulating): one dispatch. */
export function loraDBGroup(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  members: readonly LoraMember[],
  dys: readonly GPUBuffer[],
  xa: GPUBuffer,
  T: number,
  r: number,
  scale: number,
): void {
  checkGroup(members);
  const G = members.length;
  const outs = range(MAX_GROUP).map((i) => members[i]?.outF ?? 0);
  runner.dispatch(
    pass,
    runner.pipeline(dBCode(G), `lora_db_g${G}`),
    [...dys, xa, ...members.map((m) => m.dB)],
    params(u32(T), u32(r), u32(G), f32(scale), ...outs.map(u32)),
    [Math.ceil(r / 8), Math.ceil(outs.reduce((a, b) => a + b, 0) / 8)],
  );
}

/** dA_i[j, k] += scale·Σ_t g[t, i·r + j]·drop_i(x)[t, k]. */
const dACode = (G: number, mask: boolean) => /* wgsl */ `
@group(0) @binding(0) var<storage, read> gIn: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
${binds('dA', 2, G, 'read_write')}
struct P { T: u32, K: u32, r: u32, G: u32, threshold: u32, keepScale: f32, s0: u32, s1: u32, s2: u32, scale: f32 }
@group(0) @binding(${G + 2}) var<uniform> p: P;
${HASH}
fn m(seed: u32, idx: u32) -> f32 { return select(0.0, p.keepScale, keep(seed, idx, p.threshold)); }
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) g: vec3u) {
  let k = g.x;
  let row = g.y;
  if (k >= p.K || row >= p.G * p.r) { return; }
  let i = row / p.r;
  let j = row % p.r;
  let gs = p.G * p.r;
  var acc = 0.0;
  ${range(G)
    .map(
      (i) => `if (i == ${i}u) {
    for (var t = 0u; t < p.T; t++) {
      var xv = x[t * p.K + k];
      ${mask ? `xv *= m(p.s${i}, t * p.K + k);` : ''}
      acc += gIn[t * gs + row] * xv;
    }
    dA${i}[j * p.K + k] = dA${i}[j * p.K + k] + p.scale * acc;
  }`,
    )
    .join(' else ')}
}`;

/** dA_i += scale·g_iᵀ·drop_i(x) for each target i (accumulating): one dispatch. */
export function loraDAGroup(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  members: readonly LoraMember[],
  g: GPUBuffer,
  x: GPUBuffer,
  T: number,
  inF: number,
  r: number,
  scale: number,
): void {
  checkGroup(members);
  const G = members.length;
  const mask = !!members[0].dropout;
  const w = dropWords(members[0].dropout?.p ?? 0);
  runner.dispatch(
    pass,
    runner.pipeline(dACode(G, mask), `lora_da_g${G}${mask ? '_drop' : ''}`),
    [g, x, ...members.map((m) => m.dA)],
    params(u32(T), u32(inF), u32(r), u32(G), u32(w.threshold), f32(w.keepScale), ...seeds(members), f32(scale)),
    [Math.ceil(inF / 8), Math.ceil((G * r) / 8)],
  );
}
