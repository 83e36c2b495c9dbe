// Linear layers with frozen 16-bit weights W [out, in]: y = x·Wᵀ + b, and the input
// gradient dx = dy·W. Each has several versions (LINEAR_VERSIONS, LINEAR_DX_VERSIONS);
// the runner's kernel selection picks one per call. The first, defined here, is
// register-tiled: each thread computes a 4×4 block of outputs straight from memory
// (software adapters favour it; see docs/BENCHMARKS.md) and handles every shape. The
// workgroup-memory tiled versions are in matmul-tiled.ts. Weight chunks are processed one
// dispatch each.
import { params, u32, wgslUnpack2, type Binding, type KernelRunner } from '../kernel.ts';
import {
  LORA_EPILOGUE_FIELDS,
  loraEpilogueBuffers,
  loraEpilogueWords,
  wgslLoraEpilogue,
  wgslLoraUpPair,
  type LoraDown,
  type LoraUp,
} from './lora.ts';
import {
  checkPair,
  forwardEpilogueBuffers,
  forwardLoraTerm,
  forwardResidualTerm,
  pairBuffers,
  wgslForwardEpilogue,
  type Epilogue,
} from './epilogue.ts';
import type { KernelVersion } from '../kernel-versions.ts';
import type { WeightTensor } from '../weights.ts';
import { LINEAR_DX_TILED, LINEAR_DX_TILED_F16, LINEAR_TILED, LINEAR_TILED_F16 } from './matmul-tiled.ts';

const TILE = 4;
const WG = 8;

/**
 * y[t, yCol0 + o] (+)= Σ_k x[t,k]·W[wRow0 + o, k] (+ b[bias0 + o]) (+ LoRA) (+ residual) for o < rows.
 * Rows are read from one chunk's buffer starting at row wRow0 of that buffer.
 */
const fwd = (dtype: 'bf16' | 'f16', e: Epilogue) => {
  // A pair (gate and up): no bias binding (8 storage bindings at most), a second weight and
  // output, picked by workgroup column: [0, tilesX) the first, [tilesX, 2·tilesX) the second.
  const [epi, next] = wgslForwardEpilogue(e, e.pair ? 3 : 4);
  const pairBindings = e.pair
    ? `@group(0) @binding(${next}) var<storage, read> wp: array<u32>;
@group(0) @binding(${next + 1}) var<storage, read_write> yp: array<f32>;
${e.lora ? wgslLoraUpPair(next + 2) : ''}`
    : '';
  const uniform = next + (e.pair ? (e.lora ? 3 : 2) : 0);
  const loop = (wn: string) => `for (var kw = 0u; kw < words; kw++) {
    let w0 = unpack2(${wn}[wbase[0] + kw]);
    let w1 = unpack2(${wn}[wbase[1] + kw]);
    let w2 = unpack2(${wn}[wbase[2] + kw]);
    let w3 = unpack2(${wn}[wbase[3] + kw]);
    let wa = vec4f(w0.x, w1.x, w2.x, w3.x);
    let wb = vec4f(w0.y, w1.y, w2.y, w3.y);
    for (var tt = 0u; tt < ${TILE}u; tt++) {
      let xi = xbase[tt] + 2u * kw;
      acc[tt] = acc[tt] + x[xi] * wa + x[xi + 1u] * wb;
    }
  }`;
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<u32>;
${e.pair ? '' : '@group(0) @binding(2) var<storage, read> b: array<f32>;'}
@group(0) @binding(${e.pair ? 2 : 3}) var<storage, read_write> y: array<f32>;
struct P { T: u32, K: u32, rows: u32, wRow0: u32, yStride: u32, yCol0: u32, bias0: u32, flags: u32, ${LORA_EPILOGUE_FIELDS} }
${epi}
${pairBindings}
@group(0) @binding(${uniform}) var<uniform> p: P;
${wgslUnpack2(dtype)}
@compute @workgroup_size(${WG}, ${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wg: vec3u) {
  var g = gid;
  ${
    e.pair
      ? `let tilesX = (p.rows + ${TILE * WG - 1}u) / ${TILE * WG}u;
  let second = wg.x >= tilesX;
  if (second) { g.x -= tilesX * ${WG}u; }`
      : ''
  }
  let o0 = g.x * ${TILE}u;
  let t0 = g.y * ${TILE}u;
  if (o0 >= p.rows || t0 >= p.T) { return; }
  var acc: array<vec4f, ${TILE}>; // acc[tt][oo]
  let words = p.K / 2u;
  var wbase: array<u32, ${TILE}>;
  for (var oo = 0u; oo < ${TILE}u; oo++) { wbase[oo] = (p.wRow0 + min(o0 + oo, p.rows - 1u)) * words; }
  var xbase: array<u32, ${TILE}>;
  for (var tt = 0u; tt < ${TILE}u; tt++) { xbase[tt] = min(t0 + tt, p.T - 1u) * p.K; }
  ${e.pair ? `if (second) { ${loop('wp')} } else { ${loop('w')} }` : loop('w')}
  for (var tt = 0u; tt < ${TILE}u; tt++) {
    let t = t0 + tt;
    if (t >= p.T) { break; }
    for (var oo = 0u; oo < ${TILE}u; oo++) {
      let o = o0 + oo;
      if (o >= p.rows) { break; }
      var v = acc[tt][oo];
      let yi = t * p.yStride + p.yCol0 + o;
      ${
        e.pair
          ? `if (second) { ${e.lora ? 'v += loraTerm2(t, o);' : ''} yp[yi] = v; } else { ${forwardLoraTerm(e, 't', 'o')} y[yi] = v; }`
          : `if ((p.flags & 1u) != 0u) { v += b[p.bias0 + o]; }
      ${forwardResidualTerm(e, 'yi')}
      if ((p.flags & 2u) != 0u) { v += y[yi]; }
      ${forwardLoraTerm(e, 't', 'o')}
      y[yi] = v;`
      }
    }
  }
}`;
};

/**
 * dx[t, k] (+)= Σ_o dy[t, dyCol0 + o]·W[wRow0 + o, k] for o < rows. Each thread: 4 tokens × 4 inputs.
 */
const bwd = (dtype: 'bf16' | 'f16', lora: boolean) => /* wgsl */ `
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
struct P { T: u32, K: u32, rows: u32, wRow0: u32, dyStride: u32, dyCol0: u32, accumulate: u32, ${LORA_EPILOGUE_FIELDS} }
${lora ? wgslLoraEpilogue('down', 3) : ''}
@group(0) @binding(${lora ? 5 : 3}) var<uniform> p: P;
${wgslUnpack2(dtype)}
@compute @workgroup_size(${WG}, ${WG}) fn main(@builtin(global_invocation_id) g: vec3u) {
  let k0 = g.x * ${TILE}u; // multiple of 4: two whole words per row (K is even)
  let t0 = g.y * ${TILE}u;
  if (k0 >= p.K || t0 >= p.T) { return; }
  let words = p.K / 2u;
  let kw0 = k0 / 2u;
  let kw1 = min(kw0 + 1u, words - 1u);
  var acc: array<vec4f, ${TILE}>;
  var dybase: array<u32, ${TILE}>;
  for (var tt = 0u; tt < ${TILE}u; tt++) { dybase[tt] = min(t0 + tt, p.T - 1u) * p.dyStride + p.dyCol0; }
  for (var o = 0u; o < p.rows; o++) {
    let row = (p.wRow0 + o) * words;
    let a = unpack2(w[row + kw0]);
    let c = unpack2(w[row + kw1]);
    let wv = vec4f(a.x, a.y, c.x, c.y);
    for (var tt = 0u; tt < ${TILE}u; tt++) { acc[tt] = acc[tt] + dy[dybase[tt] + o] * wv; }
  }
  for (var tt = 0u; tt < ${TILE}u; tt++) {
    let t = t0 + tt;
    if (t >= p.T) { break; }
    for (var kk = 0u; kk < ${TILE}u; kk++) {
      let k = k0 + kk;
      if (k >= p.K) { break; }
      let i = t * p.K + k;
      // Accumulated dx first, then LoRA: the order of the separate passes this replaces.
      var v = acc[tt][kk];
      if (p.accumulate == 1u) { v = dx[i] + v; }
      ${lora ? 'v += loraTerm(t, k);' : ''}
      dx[i] = v;
    }
  }
}`;

const codes = new Map<string, string>();
function cached(key: string, make: () => string): string {
  let c = codes.get(key);
  if (!c) codes.set(key, (c = make()));
  return c;
}
const epilogueOf = (a: { lora?: unknown; residual?: unknown; pair?: unknown }): Epilogue => ({
  lora: !!a.lora,
  residual: !!a.residual,
  pair: !!a.pair,
});
const epilogueKey = (e: Epilogue) => `${e.lora ? '_lora' : ''}${e.residual ? '_res' : ''}${e.pair ? '_pair' : ''}`;

/** A band of W's rows inside one chunk buffer. */
export interface RowBand {
  buffer: GPUBuffer;
  /** First row of the band within the buffer. */
  bufferRow: number;
  rows: number;
}

/** One forward call: y[:, yCol0 .. yCol0+band.rows) (+)= x·W_bandᵀ (+ bias). */
export interface LinearArgs {
  /** A buffer or a 256-aligned range of one (the LM head binds a chunk of tokens in place). */
  x: Binding;
  W: WeightTensor;
  band: RowBand;
  bias?: { buffer: GPUBuffer; offset: number };
  y: GPUBuffer;
  yStride: number;
  yCol0: number;
  T: number;
  accumulate: boolean;
  /** y += s·xa·Bᵀ in the epilogue (LoRA's second product; xa computed by loraProjectGroup). */
  lora?: LoraUp;
  /** y = residual + x·Wᵀ …: the residual stream added in the epilogue (no copy first). */
  residual?: GPUBuffer;
  /**
   * A second weight of the same shape read from the same x, in the same dispatch (gate and
   * up): yp = x·W_pairᵀ (+ its LoRA, from the same xa at its own column). No bias, residual
   * or accumulate with a pair.
   */
  pair?: LinearPair;
}

export interface LinearPair {
  band: RowBand;
  y: GPUBuffer;
  lora?: LoraUp;
}

/** One input-gradient call: dx (+)= dy[:, dyCol0 .. +band.rows)·W_band. */
export interface LinearDxArgs {
  dy: Binding;
  dyStride: number;
  dyCol0: number;
  W: WeightTensor;
  band: RowBand;
  dx: Binding;
  T: number;
  accumulate: boolean;
  /** dx += s·(g·A)∘mask in the epilogue (LoRA's input gradient; g from loraGradGroup). */
  lora?: LoraDown;
}

const LINEAR_REGISTER: KernelVersion<LinearArgs> = {
  op: 'linear',
  name: 'linear.register',
  family: 'register',
  features: [],
  workgroupBytes: 0,
  summary: '4×4 outputs per thread read straight from memory (no workgroup memory); any shape',
  supports: () => true,
  record(runner, pass, a) {
    checkPair(a);
    const flags = (a.bias ? 1 : 0) | (a.accumulate ? 2 : 0);
    const e = epilogueOf(a);
    const key = `linear_${a.W.dtype}${epilogueKey(e)}`;
    runner.dispatch(
      pass,
      runner.pipeline(
        cached(key, () => fwd(a.W.dtype, e)),
        key,
      ),
      [a.x, a.band.buffer, ...(a.pair ? [] : [a.bias?.buffer ?? a.x]), a.y, ...forwardEpilogueBuffers(a), ...pairBuffers(a)],
      params(
        u32(a.T),
        u32(a.W.cols),
        u32(a.band.rows),
        u32(a.band.bufferRow),
        u32(a.yStride),
        u32(a.yCol0),
        u32(a.bias?.offset ?? 0),
        u32(flags),
        ...loraEpilogueWords(a.lora, a.pair?.lora),
      ),
      [Math.ceil(a.band.rows / (TILE * WG)) * (a.pair ? 2 : 1), Math.ceil(a.T / (TILE * WG))],
    );
  },
};

const LINEAR_DX_REGISTER: KernelVersion<LinearDxArgs> = {
  op: 'linear-dx',
  name: 'linear-dx.register',
  family: 'register',
  features: [],
  workgroupBytes: 0,
  summary: '4 tokens × 4 inputs per thread, looping over W rows straight from memory; any shape',
  supports: () => true,
  record(runner, pass, a) {
    const key = `linear_bwd_${a.W.dtype}${a.lora ? '_lora' : ''}`;
    runner.dispatch(
      pass,
      runner.pipeline(
        cached(key, () => bwd(a.W.dtype, !!a.lora)),
        key,
      ),
      [a.dy, a.band.buffer, a.dx, ...(a.lora ? loraEpilogueBuffers(a.lora) : [])],
      params(
        u32(a.T),
        u32(a.W.cols),
        u32(a.band.rows),
        u32(a.band.bufferRow),
        u32(a.dyStride),
        u32(a.dyCol0),
        u32(a.accumulate ? 1 : 0),
        ...loraEpilogueWords(a.lora),
      ),
      [Math.ceil(a.W.cols / (TILE * WG)), Math.ceil(a.T / (TILE * WG))],
    );
  },
};

/** Every version of the linear forward; the first is the fallback. */
export const LINEAR_VERSIONS: readonly KernelVersion<LinearArgs>[] = [LINEAR_REGISTER, LINEAR_TILED, LINEAR_TILED_F16];
/** Every version of the input gradient; the first is the fallback. */
export const LINEAR_DX_VERSIONS: readonly KernelVersion<LinearDxArgs>[] = [LINEAR_DX_REGISTER, LINEAR_DX_TILED, LINEAR_DX_TILED_F16];

/** Records one forward call with the version the runner's selection picks. */
export function linearCall(runner: KernelRunner, pass: GPUComputePassEncoder, a: LinearArgs): void {
  runner.kernels.choose(LINEAR_VERSIONS, { T: a.T, K: a.W.cols, N: a.band.rows }, a).record(runner, pass, a);
}

/** Records one input-gradient call with the version the runner's selection picks. */
export function linearDxCall(runner: KernelRunner, pass: GPUComputePassEncoder, a: LinearDxArgs): void {
  runner.kernels.choose(LINEAR_DX_VERSIONS, { T: a.T, K: a.band.rows, N: a.W.cols }, a).record(runner, pass, a);
}

/** Records y[:, yCol0 .. yCol0+band.rows) (+)= x·W_bandᵀ (+ bias). */
export function linearBandForward(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  x: GPUBuffer,
  W: WeightTensor,
  band: RowBand,
  bias: { buffer: GPUBuffer; offset: number } | undefined,
  y: GPUBuffer,
  yStride: number,
  yCol0: number,
  T: number,
  accumulate: boolean,
): void {
  linearCall(runner, pass, { x, W, band, bias, y, yStride, yCol0, T, accumulate });
}

/** Records dx (+)= dy[:, dyCol0 .. +band.rows)·W_band. */
export function linearBandBackward(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  dy: GPUBuffer,
  dyStride: number,
  dyCol0: number,
  W: WeightTensor,
  band: RowBand,
  dx: GPUBuffer,
  T: number,
  accumulate: boolean,
): void {
  linearDxCall(runner, pass, { dy, dyStride, dyCol0, W, band, dx, T, accumulate });
}

/** What a whole-matrix forward adds in the epilogue: LoRA (`row0` is set per chunk) and a residual. */
export interface ForwardExtras {
  lora?: Omit<LoraUp, 'row0'>;
  residual?: GPUBuffer;
}

/** y[T, out] (+)= x[T, in]·Wᵀ + b (+ LoRA) (+ residual), over every chunk of W. */
export function linearForward(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  x: GPUBuffer,
  W: WeightTensor,
  bias: GPUBuffer | undefined,
  y: GPUBuffer,
  T: number,
  accumulate = false,
  extras: ForwardExtras = {},
): void {
  for (const c of W.chunks) {
    const band = { buffer: c.buffer, bufferRow: 0, rows: c.rows };
    linearCall(runner, pass, {
      x,
      W,
      band,
      bias: bias && { buffer: bias, offset: c.rowStart },
      y,
      yStride: W.rows,
      yCol0: c.rowStart,
      T,
      accumulate,
      lora: extras.lora && { ...extras.lora, row0: c.rowStart },
      residual: extras.residual,
    });
  }
}

/** dx[T, in] (+)= dy[T, out]·W (+ LoRA's s·(g·A)∘mask), accumulating over W's chunks. */
export function linearBackwardInput(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  dy: GPUBuffer,
  W: WeightTensor,
  dx: GPUBuffer,
  T: number,
  accumulate: boolean,
  lora?: LoraDown,
): void {
  W.chunks.forEach((c, i) => {
    const band = { buffer: c.buffer, bufferRow: 0, rows: c.rows };
    // The LoRA term is added once, by the first chunk.
    linearDxCall(runner, pass, {
      dy,
      dyStride: W.rows,
      dyCol0: c.rowStart,
      W,
      band,
      dx,
      T,
      accumulate: accumulate || i > 0,
      lora: i === 0 ? lora : undefined,
    });
  });
}

/**
 * Two projections of the same shape reading the same x in one dispatch per chunk (gate and
 * up): y1 = x·W1ᵀ (+ LoRA), y2 = x·W2ᵀ (+ LoRA). Falls back to two calls where the weights
 * are chunked differently.
 */
export function linearPairForward(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  x: GPUBuffer,
  W1: WeightTensor,
  W2: WeightTensor,
  y1: GPUBuffer,
  y2: GPUBuffer,
  T: number,
  lora1?: Omit<LoraUp, 'row0'>,
  lora2?: Omit<LoraUp, 'row0'>,
): void {
  const aligned =
    W1.rows === W2.rows &&
    W1.cols === W2.cols &&
    W1.dtype === W2.dtype &&
    !!lora1 === !!lora2 &&
    W1.chunks.length === W2.chunks.length &&
    W1.chunks.every((c, i) => c.rows === W2.chunks[i].rows && c.rowStart === W2.chunks[i].rowStart);
  if (!aligned) {
    linearForward(runner, pass, x, W1, undefined, y1, T, false, { lora: lora1 });
    linearForward(runner, pass, x, W2, undefined, y2, T, false, { lora: lora2 });
    return;
  }
  W1.chunks.forEach((c, i) => {
    const c2 = W2.chunks[i];
    linearCall(runner, pass, {
      x,
      W: W1,
      band: { buffer: c.buffer, bufferRow: 0, rows: c.rows },
      y: y1,
      yStride: W1.rows,
      yCol0: c.rowStart,
      T,
      accumulate: false,
      lora: lora1 && { ...lora1, row0: c.rowStart },
      pair: { band: { buffer: c2.buffer, bufferRow: 0, rows: c2.rows }, y: y2, lora: lora2 && { ...lora2, row0: c2.rowStart } },
    });
  });
}
