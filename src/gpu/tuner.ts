// The autotuner: times every version of each hot kernel that this adapter can run, at the
// model's real shapes and on its real weights, and picks the fastest correct one.
// Software adapters rank kernels the other way round from GPUs (workgroup memory and
// barriers are slow on a CPU), so nothing is decided in advance: the choice is measured on
// the user's adapter and stored per adapter and shape (tune-store.ts).
// Timing: GPU timestamps around the compute pass where the device has `timestamp-query`,
// else wall-clock from submit to onSubmittedWorkDone; one warm-up run (pipeline
// compilation), then the median of `reps` runs. Before timing, each version's output is
// compared with the first (register) version's: a version that disagrees (a driver bug)
// is never chosen.
import type { KernelRunner } from './kernel.ts';
import { KERNEL_OPS, shapeKey, type KernelOp, type KernelVersion, type OpShape } from './kernel-versions.ts';
import type { GpuModel } from './model.ts';
import type { WeightTensor } from './weights.ts';
import { LINEAR_DX_VERSIONS, LINEAR_VERSIONS, type LinearArgs, type LinearDxArgs } from './kernels/linear.ts';
import { GEMV_VERSIONS, type GemvArgs } from './kernels/gemv.ts';
import { ATTENTION_VERSIONS, attentionShape, type AttentionArgs } from './kernels/attention-versions.ts';
import { ATTENTION_CACHED_VERSIONS, attentionCachedShape, type AttentionCachedArgs } from './kernels/attention-cached.ts';
import { kvCacheType } from './decoder.ts';
import { floatToF16 } from '../model/dtype.ts';
import { headChunkTokens } from './buffers-plan.ts';
import { ATTENTION_F16_TOLERANCE } from './kernels/attention-flash-f16.ts';
import { readFloat32 } from './buffers.ts';
import { relErr } from './reference/ops.ts';
import type { Progress } from '../progress.ts';
import { abortError } from '../progress.ts';

/** One operation at one shape, on one of the model's weights. */
export interface TuneCase {
  op: KernelOp;
  /** Which weight (e.g. `mlp.up`, `lm_head`), or `attention`. */
  label: string;
  shape: OpShape;
  /** The weight and the rows of it used (a chunk's rows: the LM head may have several); absent for attention
   *  and cached attention (whose shape's T is the cache length, one query decoded against it). */
  weight?: WeightTensor;
  rows?: number;
  /** Attention's heads (its shape holds the head size and the group only). */
  heads?: { nHeads: number; nKv: number };
}

export interface VersionTiming {
  name: string;
  /** Median time of one call (ms), when it ran and was correct. */
  ms?: number;
  /** How timings were taken. */
  clock?: 'gpu-timestamps' | 'wall-clock';
  /** Max error against the first version's output, relative to its largest value. */
  error?: number;
  status: 'ok' | 'wrong' | 'unavailable' | 'unsupported-shape';
}

export interface TuneResult {
  op: KernelOp;
  label: string;
  key: string;
  shape: OpShape;
  flops: number;
  versions: VersionTiming[];
  chosen: string;
}

/** Errors above this (relative to the largest output) mark a version wrong: f16 inputs ≈ 4e-4, f32 ≈ 1e-6.
 *  Attention's versions must agree within its kernel test's tolerance (test/gpu/attention.test.ts). */
const AGREE = { f32: 1e-4, f16: 1e-2, attention: 2e-5, attentionF16: ATTENTION_F16_TOLERANCE };

/** Cache lengths cached attention is tuned at (capped at the model's context). */
const DECODE_CACHE_LENGTHS = [64, 512, 4096];

/** The operations and shapes the engine dispatches for this model: training at `seqLen` tokens, decoding one. */
export function modelTuneCases(model: GpuModel, seqLen: number, ops: readonly KernelOp[] = KERNEL_OPS): TuneCase[] {
  const L = model.layers[0];
  const weights: Array<[string, WeightTensor]> = [
    ['attn.q', L.q.weight],
    ['attn.k', L.k.weight],
    ['attn.v', L.v.weight],
    ['attn.o', L.o.weight],
    ['mlp.gate', L.gate.weight],
    ['mlp.up', L.up.weight],
    ['mlp.down', L.down.weight],
  ];
  const head = model.lmHead;
  const headRows = head.chunks[0].rows;
  const headT = headChunkTokens(seqLen, head.rows, head.cols);
  const cases: TuneCase[] = [];
  const seen = new Set<string>();
  const add = (c: TuneCase) => {
    const key = shapeKey(c.op, c.shape);
    if (seen.has(key)) return;
    seen.add(key);
    cases.push(c);
  };
  for (const op of ops) {
    for (const [label, w] of weights) {
      const rows = w.chunks[0].rows;
      if (op === 'linear') add({ op, label, weight: w, rows, shape: { T: seqLen, K: w.cols, N: rows } });
      if (op === 'linear-dx') add({ op, label, weight: w, rows, shape: { T: seqLen, K: rows, N: w.cols } });
      if (op === 'gemv') add({ op, label, weight: w, rows, shape: { T: 1, K: w.cols, N: rows } });
    }
    // The LM head: in training a chunk of tokens against each weight chunk's rows (forward
    // and dx, cross-entropy.ts), every row for one token when decoding.
    if (op === 'linear') add({ op, label: 'lm_head tile', weight: head, rows: headRows, shape: { T: headT, K: head.cols, N: headRows } });
    if (op === 'linear-dx')
      add({ op, label: 'lm_head tile', weight: head, rows: headRows, shape: { T: headT, K: headRows, N: head.cols } });
    if (op === 'gemv') add({ op, label: 'lm_head', weight: head, rows: headRows, shape: { T: 1, K: head.cols, N: headRows } });
    // Training attention, forward and backward together (one pick serves both).
    if (op === 'attention') {
      const c = model.config;
      const heads = { nHeads: c.numHeads, nKv: c.numKvHeads };
      add({ op, label: 'attention', heads, shape: attentionShape({ T: seqLen, ...heads, headDim: c.headDim }) });
    }
    // Decoding's attention of one token against the KV cache, at a few cache lengths (the
    // pick at the nearest length serves the others).
    if (op === 'attention-cached') {
      const c = model.config;
      const heads = { nHeads: c.numHeads, nKv: c.numKvHeads };
      for (const len of new Set(DECODE_CACHE_LENGTHS.map((n) => Math.min(n, c.maxPositionEmbeddings))))
        add({
          op,
          label: `cached attention ${len}`,
          heads,
          shape: attentionCachedShape({ T: 1, pos0: len - 1, ...heads, headDim: c.headDim }),
        });
    }
  }
  return cases;
}

interface Prepared {
  versions: readonly KernelVersion<unknown>[];
  args: unknown;
  /** The outputs compared between versions (each relative to its own largest value). */
  outs: { buffer: GPUBuffer; n: number }[];
  /** One timed call: a version records this (attention: forward then backward). */
  record(v: KernelVersion<unknown>, runner: KernelRunner, pass: GPUComputePassEncoder): void;
  destroy(): void;
}

function prepare(device: GPUDevice, c: TuneCase): Prepared {
  const { T, K, N } = c.shape;
  const make = (floats: number, fill: boolean) => {
    const b = device.createBuffer({
      size: Math.max(16, floats * 4),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    if (fill) {
      const data = new Float32Array(floats);
      for (let i = 0; i < floats; i++) data[i] = Math.sin(i * 12.9898) * 0.5; // deterministic, O(1), no structure
      device.queue.writeBuffer(b, 0, data);
    }
    return b;
  };
  if (c.op === 'attention') return prepareAttention(device, c, make);
  if (c.op === 'attention-cached') return prepareAttentionCached(device, c, make);
  const W = c.weight!;
  const rows = c.rows!;
  const band = { buffer: W.chunks[0].buffer, bufferRow: 0, rows };
  const input = make(T * K, true);
  const output = make(T * N, false);
  const destroy = () => {
    input.destroy();
    output.destroy();
  };
  const common = { outs: [{ buffer: output, n: c.op === 'gemv' ? N : T * N }], destroy };
  let versions: readonly KernelVersion<unknown>[];
  let args: unknown;
  if (c.op === 'linear') {
    versions = LINEAR_VERSIONS as readonly KernelVersion<unknown>[];
    args = { x: input, W, band, y: output, yStride: N, yCol0: 0, T, accumulate: false } satisfies LinearArgs;
  } else if (c.op === 'linear-dx') {
    versions = LINEAR_DX_VERSIONS as readonly KernelVersion<unknown>[];
    args = { dy: input, dyStride: K, dyCol0: 0, W, band, dx: output, T, accumulate: false } satisfies LinearDxArgs;
  } else {
    versions = GEMV_VERSIONS as readonly KernelVersion<unknown>[];
    args = { x: input, W, chunk: { ...W.chunks[0], rows }, y: output, accumulate: false, xRow: 0 } satisfies GemvArgs;
  }
  return { ...common, versions, args, record: (v, runner, pass) => v.record(runner, pass, args) };
}

/** Attention at a training shape: deterministic q, k, v and dout; forward then backward per call. */
function prepareAttention(device: GPUDevice, c: TuneCase, make: (floats: number, fill: boolean) => GPUBuffer): Prepared {
  const { T, K: headDim } = c.shape;
  const { nHeads, nKv } = c.heads!;
  const qn = T * nHeads * headDim;
  const kn = T * nKv * headDim;
  const [q, k, v, dout] = [make(qn, true), make(kn, true), make(kn, true), make(qn, true)];
  const [out, lse, dq, dk, dv, delta] = [
    make(qn, false),
    make(nHeads * T, false),
    make(qn, false),
    make(kn, false),
    make(kn, false),
    make(nHeads * T, false),
  ];
  const all = [q, k, v, dout, out, lse, dq, dk, dv, delta];
  const fwd: AttentionArgs = { q, k, v, out, lse, T, nHeads, nKv, headDim, limits: device.limits };
  const bwd: AttentionArgs = { ...fwd, grads: { dout, dq, dk, dv, delta } };
  return {
    versions: ATTENTION_VERSIONS as readonly KernelVersion<unknown>[],
    args: fwd,
    outs: [
      { buffer: out, n: qn },
      { buffer: dq, n: qn },
      { buffer: dk, n: kn },
      { buffer: dv, n: kn },
    ],
    record(ver, runner, pass) {
      ver.record(runner, pass, fwd);
      ver.record(runner, pass, bwd);
    },
    destroy: () => {
      for (const b of all) b.destroy();
    },
  };
}

/** One decoded token against a cache of `shape.T` positions, in the cache type the decoder uses by default. */
function prepareAttentionCached(device: GPUDevice, c: TuneCase, make: (floats: number, fill: boolean) => GPUBuffer): Prepared {
  const { T: len, K: headDim } = c.shape;
  const { nHeads, nKv } = c.heads!;
  const kvType = kvCacheType(device);
  const cacheBuffer = (seed: number) => {
    const n = len * nKv * headDim;
    if (kvType === 'f32') return make(n, true);
    const bits = new Uint16Array(n);
    for (let i = 0; i < n; i++) bits[i] = floatToF16(Math.sin((i + seed) * 12.9898) * 0.5);
    const b = device.createBuffer({ size: Math.max(16, n * 2), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(b, 0, bits);
    return b;
  };
  const [q, kCache, vCache, out] = [make(nHeads * headDim, true), cacheBuffer(0), cacheBuffer(7), make(nHeads * headDim, false)];
  const args: AttentionCachedArgs = { q, kCache, vCache, out, T: 1, pos0: len - 1, nHeads, nKv, headDim, kvType };
  return {
    versions: ATTENTION_CACHED_VERSIONS as readonly KernelVersion<unknown>[],
    args,
    outs: [{ buffer: out, n: nHeads * headDim }],
    record: (v, runner, pass) => v.record(runner, pass, args),
    destroy: () => {
      for (const b of [q, kCache, vCache, out]) b.destroy();
    },
  };
}

/** FLOPs of one call: a GEMM's 2·T·K·N; causal attention's forward (2·T²·d·heads) and backward (5·T²·d·heads). */
function caseFlops(c: TuneCase): number {
  const { T, K, N } = c.shape;
  if (c.op === 'attention') return 7 * T * T * K * c.heads!.nHeads;
  if (c.op === 'attention-cached') return 4 * T * K * c.heads!.nHeads; // q·k and p·v over T cached keys
  return 2 * T * K * N;
}

/** Times `record` (one call of a version): median ms of `reps` runs after a warm-up. */
export async function timeCall(
  runner: KernelRunner,
  record: (pass: GPUComputePassEncoder) => void,
  reps: number,
): Promise<{ ms: number; clock: VersionTiming['clock'] }> {
  const device = runner.device;
  const gpuClock = device.features.has('timestamp-query');
  const query = gpuClock ? device.createQuerySet({ type: 'timestamp', count: 2 }) : undefined;
  const resolve = query ? device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }) : undefined;
  const read = query ? device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }) : undefined;
  const once = async (): Promise<number> => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass(
      query ? { timestampWrites: { querySet: query, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {},
    );
    record(pass);
    pass.end();
    if (query && resolve && read) {
      enc.resolveQuerySet(query, 0, 2, resolve, 0);
      enc.copyBufferToBuffer(resolve, 0, read, 0, 16);
    }
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    const wall = performance.now() - t0;
    runner.releaseUniforms();
    if (!read) return wall;
    await read.mapAsync(GPUMapMode.READ);
    const [a, b] = new BigUint64Array(read.getMappedRange().slice(0));
    read.unmap();
    // Some drivers report zeros (timestamps quantised or disabled): use the wall clock then.
    return b > a ? Number(b - a) / 1e6 : wall;
  };
  try {
    await once();
    const times: number[] = [];
    for (let i = 0; i < reps; i++) times.push(await once());
    times.sort((x, y) => x - y);
    return { ms: times[Math.floor(times.length / 2)], clock: gpuClock ? 'gpu-timestamps' : 'wall-clock' };
  } finally {
    query?.destroy();
    resolve?.destroy();
    read?.destroy();
  }
}

export interface TuneOptions {
  /** Timed runs per version after the warm-up (median taken). */
  reps?: number;
  /** Starts no new case after this many ms (the cases left keep their current choice). */
  budgetMs?: number;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

/**
 * Times every available version at each case and records the fastest correct one in the
 * runner's selection (`runner.kernels`). Returns every version's figures.
 */
export async function tuneKernels(runner: KernelRunner, cases: TuneCase[], opts: TuneOptions = {}): Promise<TuneResult[]> {
  const reps = opts.reps ?? 5;
  const device = runner.device;
  const results: TuneResult[] = [];
  const start = performance.now();
  for (const [i, c] of cases.entries()) {
    if (opts.signal?.aborted) throw abortError();
    if (opts.budgetMs !== undefined && performance.now() - start > opts.budgetMs) break;
    const key = shapeKey(c.op, c.shape);
    opts.onProgress?.({ phase: 'tuning kernels', done: i, total: cases.length, detail: `${c.label} ${key}` });
    const p = prepare(device, c);
    const timings: VersionTiming[] = [];
    let reference: Float32Array[] | undefined;
    try {
      for (const v of p.versions) {
        if (!runner.kernels.available(v)) {
          timings.push({ name: v.name, status: 'unavailable' });
          continue;
        }
        if (!v.supports(p.args)) {
          timings.push({ name: v.name, status: 'unsupported-shape' });
          continue;
        }
        const record = (pass: GPUComputePassEncoder) => p.record(v, runner, pass);
        await runner.run(record);
        const outs: Float32Array[] = [];
        for (const o of p.outs) outs.push(await readFloat32(device, o.buffer, o.n));
        const error = reference ? Math.max(...outs.map((o, j) => relErr(o, reference![j]))) : 0;
        reference ??= outs;
        const f16 = v.features.includes('shader-f16');
        // Cached attention's versions all widen the cache exactly and compute in f32.
        const agree =
          c.op === 'attention-cached'
            ? AGREE.attention
            : c.op === 'attention'
              ? f16
                ? AGREE.attentionF16(c.shape.K)
                : AGREE.attention
              : f16
                ? AGREE.f16
                : AGREE.f32;
        if (error > agree) {
          timings.push({ name: v.name, status: 'wrong', error });
          continue;
        }
        const t = await timeCall(runner, record, reps);
        timings.push({ name: v.name, status: 'ok', error, ms: t.ms, clock: t.clock });
      }
    } finally {
      p.destroy();
    }
    const ok = timings.filter((t) => t.status === 'ok');
    const chosen = ok.reduce((b, t) => (t.ms! < b.ms! ? t : b), ok[0]).name;
    runner.kernels.setPick(c.op, c.shape, chosen);
    results.push({ op: c.op, label: c.label, key, shape: c.shape, flops: caseFlops(c), versions: timings, chosen });
  }
  opts.onProgress?.({ phase: 'tuning kernels', done: cases.length, total: cases.length });
  return results;
}
