// Causal GQA attention, FlashAttention-2 version: K/V (forward, dq) and Q/dout (dk/dv)
// are staged through workgroup memory in blocks, so one global read serves a whole
// workgroup instead of one thread. Same buffers, layouts and signature as attention.ts
// (out/dq/dk/dv [T, heads·d], lse and delta [nHeads, T]), so either version's forward
// pairs with either version's backward. Tile sizes and their reasoning: docs/ENGINE.md.
//
// forward  one workgroup = BR queries × all G query heads of one kv head (thread per
//          (query, head) row); loops over key blocks of BC rows; online softmax per block
//          (one rescale of the accumulator per block), f32 throughout; writes out and lse.
// dq       same row mapping and K/V blocks; recomputes P from lse; writes dq and
//          delta = rowsum(dout∘out), which the dk/dv pass then reads.
// dk/dv    one workgroup = BCK keys of one kv head (thread per key row); loops over every
//          query head of the group and over query blocks of BRQ rows staged in workgroup
//          memory with their lse and delta. No float atomics anywhere.
import { GpuError } from '../errors.ts';
import type { KernelRunner } from '../kernel.ts';
import {
  attentionBindings,
  attentionHeader,
  attentionParams,
  checkHeads,
  checkRows,
  dispatchAttention,
  type AttentionBinding,
  type AttentionPassKind,
} from './attention-common.ts';

/** Block sizes of the flash kernels (all in rows; see flashTiles). */
export interface FlashTiles {
  /** forward / dq: query rows per workgroup (× G heads = threads). */
  br: number;
  /** forward / dq: key rows per K/V block in workgroup memory. */
  bc: number;
  /** dk/dv: key rows (threads) per workgroup. */
  bck: number;
  /** dk/dv: query rows per Q/dout block in workgroup memory. */
  brq: number;
}

/** The device limits the tile choice reads. */
export interface FlashLimits {
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
}

/** Rows (threads) a forward/dq workgroup aims for: K/V reuse per global read. */
const ROWS = 64;
const BC_MAX = 32;
const BRQ_MAX = 32;
const BCK = 64;

/**
 * Block sizes for head size `hd` and `group` query heads per kv head within the device's
 * limits. Workgroup memory holds BC·hd·2 floats (forward, dq) or BRQ·(hd·2 + 2) (dk/dv);
 * with the WebGPU default of 16 KiB that is BC = 32 at d = 64 and 16 at d = 128.
 */
export function flashTiles(limits: FlashLimits, hd: number, group: number): FlashTiles {
  const floats = Math.floor(limits.maxComputeWorkgroupStorageSize / 4);
  const bc = Math.min(BC_MAX, Math.floor(floats / (2 * hd)));
  const brq = Math.min(BRQ_MAX, Math.floor(floats / (2 * hd + 2)));
  const br = Math.max(1, Math.min(64, Math.floor(ROWS / group)));
  const bck = Math.min(BCK, limits.maxComputeInvocationsPerWorkgroup);
  if (bc < 1 || brq < 1 || br * group > limits.maxComputeInvocationsPerWorkgroup) {
    throw new GpuError(
      'INTERNAL',
      `flash attention does not fit this adapter (head size ${hd}, ${group} query heads per kv head, ` +
        `${limits.maxComputeWorkgroupStorageSize} bytes of workgroup memory, ${limits.maxComputeInvocationsPerWorkgroup} invocations).`,
      'Use the simple attention version: --kernels register (or the tuner, which skips versions that do not fit).',
    );
  }
  return { br, bc, bck, brq };
}

const header = (kind: AttentionPassKind, hd: number, group: number) => /* wgsl */ `
${attentionHeader(kind, hd)}
const G: u32 = ${group}u;`;

/**
 * A WGSL function `fn(r0, h, lid)` that stages rows r0..r0+rows-1 of head h of two
 * [T, heads·HD] buffers into two workgroup arrays (zeros past T). Consecutive threads read
 * consecutive floats of a row, so the global reads coalesce.
 */
const loadRows = (fn: string, from: [string, string], to: [string, string], rows: string, heads: string, threads: string) => /* wgsl */ `
fn ${fn}(r0: u32, h: u32, lid: u32) {
  for (var e = lid; e < ${rows} * HD; e += ${threads}) {
    let r = r0 + e / HD;
    var x = 0.0;
    var y = 0.0;
    if (r < p.T) {
      let idx = (r * ${heads} + h) * HD + e % HD;
      x = ${from[0]}[idx];
      y = ${from[1]}[idx];
    }
    ${to[0]}[e] = x;
    ${to[1]}[e] = y;
  }
}`;

// Forward and dq share the row mapping and the K/V block load.
const rowsAndKvBlock = (hd: number, br: number, bc: number) => /* wgsl */ `
const BR: u32 = ${br}u;
const BC: u32 = ${bc}u;
const WGS: u32 = ${br}u * G;
var<workgroup> kt: array<f32, ${bc * hd}>;
var<workgroup> vt: array<f32, ${bc * hd}>;
// Keys j0..j0+BC-1 of kv head kh into kt/vt.
${loadRows('loadKv', ['k', 'v'], ['kt', 'vt'], 'BC', 'p.nKv', 'WGS')}`;

// Forward and dq entry: thread lid is query row i (clamped to `row` for loads) of query
// head h in kv head kh's group.
const rowMain = /* wgsl */ `
@compute @workgroup_size(WGS) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let kh = wg.y;
  let i0 = wg.x * BR;
  let i = i0 + lid / G;
  let h = kh * G + lid % G;
  let live = i < p.T;
  let row = min(i, p.T - 1u);
  let qi = (row * p.nHeads + h) * HD;`;

// Forward and dq loop over the key blocks; `body` sees keys j0..j0+n-1 in kt/vt (also the
// f16 version's: its loadKv fills f16 blocks).
export const kvBlocks = (body: string) => /* wgsl */ `
  // Causal: the workgroup's last query bounds the key blocks (uniform, so barriers are legal).
  let blocks = (min(i0 + BR, p.T) - 1u) / BC + 1u;
  for (var b = 0u; b < blocks; b++) {
    let j0 = b * BC;
    workgroupBarrier();
    loadKv(j0, kh, lid);
    workgroupBarrier();
    if (live && j0 <= i) {
      let n = min(BC, i - j0 + 1u);${body}
    }
  }`;

const forward = (hd: number, group: number, t: FlashTiles) => /* wgsl */ `
${header('fwd', hd, group)}
${rowsAndKvBlock(hd, t.br, t.bc)}
${rowMain}
  var qr: array<f32, ${hd}>;
  var acc: array<f32, ${hd}>;
  var s: array<f32, ${t.bc}>;
  for (var d = 0u; d < HD; d++) { qr[d] = q[qi + d] * p.scale; acc[d] = 0.0; }
  var m = -3.0e38;
  var l = 0.0;
${kvBlocks(/* wgsl */ `
      var mb = m;
      for (var c = 0u; c < n; c++) {
        var sc = 0.0;
        for (var d = 0u; d < HD; d++) { sc += qr[d] * kt[c * HD + d]; }
        s[c] = sc;
        mb = max(mb, sc);
      }
      let corr = exp(m - mb);
      l *= corr;
      for (var d = 0u; d < HD; d++) { acc[d] *= corr; }
      for (var c = 0u; c < n; c++) {
        let pc = exp(s[c] - mb);
        l += pc;
        for (var d = 0u; d < HD; d++) { acc[d] += pc * vt[c * HD + d]; }
      }
      m = mb;`)}
  if (live) {
    for (var d = 0u; d < HD; d++) { out[qi + d] = acc[d] / l; }
    lse[h * p.T + i] = m + log(l);
  }
}`;

const backwardQ = (hd: number, group: number, t: FlashTiles) => /* wgsl */ `
${header('bq', hd, group)}
${rowsAndKvBlock(hd, t.br, t.bc)}
${rowMain}
  var qr: array<f32, ${hd}>;
  var dor: array<f32, ${hd}>;
  var acc: array<f32, ${hd}>;
  var D = 0.0;
  for (var d = 0u; d < HD; d++) {
    qr[d] = q[qi + d] * p.scale;
    dor[d] = dout[qi + d];
    D += dor[d] * out[qi + d];
    acc[d] = 0.0;
  }
  if (live) { delta[h * p.T + i] = D; }
  let L = lse[h * p.T + row];
${kvBlocks(/* wgsl */ `
      for (var c = 0u; c < n; c++) {
        var s = 0.0;
        var dp = 0.0;
        for (var d = 0u; d < HD; d++) { s += qr[d] * kt[c * HD + d]; dp += dor[d] * vt[c * HD + d]; }
        let ds = exp(s - L) * (dp - D) * p.scale;
        for (var d = 0u; d < HD; d++) { acc[d] += ds * kt[c * HD + d]; }
      }`)}
  if (live) {
    for (var d = 0u; d < HD; d++) { dq[qi + d] = acc[d]; }
  }
}`;

const backwardKV = (hd: number, group: number, t: FlashTiles) => /* wgsl */ `
${header('bkv', hd, group)}
const BCK: u32 = ${t.bck}u;
const BRQ: u32 = ${t.brq}u;
var<workgroup> qt: array<f32, ${t.brq * hd}>;
var<workgroup> ot: array<f32, ${t.brq * hd}>;
var<workgroup> lt: array<f32, ${t.brq}>;
var<workgroup> dt: array<f32, ${t.brq}>;
// Queries i0..i0+BRQ-1 of query head h and their dout into qt/ot.
${loadRows('loadQo', ['q', 'dout'], ['qt', 'ot'], 'BRQ', 'p.nHeads', 'BCK')}
@compute @workgroup_size(BCK) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let kh = wg.y;
  let j0 = wg.x * BCK;
  let j = j0 + lid;
  let live = j < p.T;
  let kj = (min(j, p.T - 1u) * p.nKv + kh) * HD;
  var kr: array<f32, ${hd}>;
  var vr: array<f32, ${hd}>;
  var dkr: array<f32, ${hd}>;
  var dvr: array<f32, ${hd}>;
  for (var d = 0u; d < HD; d++) { kr[d] = k[kj + d]; vr[d] = v[kj + d]; dkr[d] = 0.0; dvr[d] = 0.0; }
  // Causal: queries before this block's first key never see it (uniform bounds).
  let first = j0 / BRQ;
  let blocks = (p.T + BRQ - 1u) / BRQ;
  for (var g = 0u; g < G; g++) {
    let h = kh * G + g;
    for (var b = first; b < blocks; b++) {
      let i0 = b * BRQ;
      workgroupBarrier();
      loadQo(i0, h, lid);
      for (var r = lid; r < BRQ; r += BCK) {
        let i = min(i0 + r, p.T - 1u);
        lt[r] = lse[h * p.T + i];
        dt[r] = delta[h * p.T + i];
      }
      workgroupBarrier();
      if (live) {
        let n = min(BRQ, p.T - i0);
        for (var r = 0u; r < n; r++) {
          if (i0 + r < j) { continue; }
          var s = 0.0;
          var dp = 0.0;
          for (var d = 0u; d < HD; d++) { s += qt[r * HD + d] * kr[d]; dp += ot[r * HD + d] * vr[d]; }
          let pr = exp(s * p.scale - lt[r]);
          let ds = pr * (dp - dt[r]) * p.scale;
          for (var d = 0u; d < HD; d++) {
            dvr[d] += pr * ot[r * HD + d];
            dkr[d] += ds * qt[r * HD + d];
          }
        }
      }
    }
  }
  if (live) {
    for (var d = 0u; d < HD; d++) { dk[kj + d] = dkr[d]; dv[kj + d] = dvr[d]; }
  }
}`;

type Kind = 'fwd' | 'bq' | 'bkv';
const cache = new Map<string, string>();
function code(kind: Kind, hd: number, group: number, t: FlashTiles): string {
  const key = `${kind}:${hd}:${group}:${t.br}:${t.bc}:${t.bck}:${t.brq}`;
  let c = cache.get(key);
  if (!c) {
    c = kind === 'fwd' ? forward(hd, group, t) : kind === 'bq' ? backwardQ(hd, group, t) : backwardKV(hd, group, t);
    cache.set(key, c);
  }
  return c;
}

/** The buffers a flash pass binds, in binding order. */
export type FlashBinding = AttentionBinding;

/** One dispatch of the flash kernels: WGSL, storage bindings, uniform bytes and grid. */
export interface FlashPass {
  label: string;
  code: string;
  bindings: FlashBinding[];
  params: ArrayBuffer;
  workgroups: [number, number];
}

/**
 * The dispatches of the flash forward (`forward`) and backward (`dq`, then `dkv`) for a
 * shape on a device with `limits`. The runner functions below record them; the browser
 * test replays them with the page's own WebGPU.
 */
export function flashPasses(
  limits: FlashLimits,
  T: number,
  nHeads: number,
  nKv: number,
  hd: number,
  tiles?: Partial<FlashTiles>,
): { forward: FlashPass; dq: FlashPass; dkv: FlashPass } {
  checkHeads(nHeads, nKv);
  const group = nHeads / nKv;
  const t = { ...flashTiles(limits, hd, group), ...tiles };
  checkRows(T, Math.min(t.br, t.bck));
  const p = attentionParams(T, nHeads, nKv, hd);
  const rows: [number, number] = [Math.ceil(T / t.br), nKv];
  return {
    forward: {
      label: 'attention_flash',
      code: code('fwd', hd, group, t),
      bindings: attentionBindings('fwd'),
      params: p,
      workgroups: rows,
    },
    dq: {
      label: 'attention_flash_bwd_q',
      code: code('bq', hd, group, t),
      bindings: attentionBindings('bq'),
      params: p,
      workgroups: rows,
    },
    dkv: {
      label: 'attention_flash_bwd_kv',
      code: code('bkv', hd, group, t),
      bindings: attentionBindings('bkv'),
      params: p,
      workgroups: [Math.ceil(T / t.bck), nKv],
    },
  };
}

function record(runner: KernelRunner, pass: GPUComputePassEncoder, fp: FlashPass, buffers: Partial<Record<FlashBinding, GPUBuffer>>): void {
  dispatchAttention(runner, pass, fp.bindings, fp.code, fp.label, buffers, fp.params, fp.workgroups);
}

/** What makes a flash version: its passes for a shape (flashPasses, flashF16Passes). */
export type FlashPassesFor = typeof flashPasses;

/**
 * The runner functions of a flash version, from its passes:
 * - forward: out = causal softmax(q·kᵀ/√d)·v; lse [nHeads, T] kept for backward. q,out:
 *   [T, nHeads·d]; k,v: [T, nKv·d].
 * - backward: dq, dk, dv (written, not accumulated); `delta` is scratch [nHeads, T].
 * `tiles` overrides the block sizes (tests use it to force many blocks).
 */
export function flashRunners(passes: FlashPassesFor) {
  return {
    forward(
      runner: KernelRunner,
      pass: GPUComputePassEncoder,
      q: GPUBuffer,
      k: GPUBuffer,
      v: GPUBuffer,
      out: GPUBuffer,
      lse: GPUBuffer,
      T: number,
      nHeads: number,
      nKv: number,
      headDim: number,
      tiles?: Partial<FlashTiles>,
    ): void {
      record(runner, pass, passes(runner.device.limits, T, nHeads, nKv, headDim, tiles).forward, { q, k, v, out, lse });
    },
    backward(
      runner: KernelRunner,
      pass: GPUComputePassEncoder,
      q: GPUBuffer,
      k: GPUBuffer,
      v: GPUBuffer,
      out: GPUBuffer,
      lse: GPUBuffer,
      dout: GPUBuffer,
      dq: GPUBuffer,
      dk: GPUBuffer,
      dv: GPUBuffer,
      delta: GPUBuffer,
      T: number,
      nHeads: number,
      nKv: number,
      headDim: number,
      tiles?: Partial<FlashTiles>,
    ): void {
      const { dq: passQ, dkv } = passes(runner.device.limits, T, nHeads, nKv, headDim, tiles);
      const buffers = { q, k, v, out, lse, dout, dq, dk, dv, delta };
      record(runner, pass, passQ, buffers);
      record(runner, pass, dkv, buffers);
    },
  };
}

export const { forward: attentionForwardFlash, backward: attentionBackwardFlash } = flashRunners(flashPasses);
