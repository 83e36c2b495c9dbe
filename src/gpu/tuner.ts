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
import { lossTileRows } from './buffers-plan.ts';
import { readFloat32 } from './buffers.ts';
import { relErr } from './reference/ops.ts';
import type { Progress } from '../progress.ts';
import { abortError } from '../progress.ts';

/** One operation at one shape, on one of the model's weights. */
export interface TuneCase {
  op: KernelOp;
  /** Which weight (e.g. `mlp.up`, `lm_head`). */
  label: string;
  shape: OpShape;
  weight: WeightTensor;
  /** Rows of the weight used (the LM head's loss tile is a band of its rows). */
  rows: number;
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

/** Errors above this (relative to the largest output) mark a version wrong: f16 inputs ≈ 4e-4, f32 ≈ 1e-6. */
const AGREE = { f32: 1e-4, f16: 1e-2 };

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
  const tile = Math.min(lossTileRows(seqLen), head.chunks[0].rows);
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
    // The LM head: a loss tile of rows in training (forward and dx), every row when decoding.
    if (op === 'linear') add({ op, label: 'lm_head tile', weight: head, rows: tile, shape: { T: seqLen, K: head.cols, N: tile } });
    if (op === 'linear-dx') add({ op, label: 'lm_head tile', weight: head, rows: tile, shape: { T: seqLen, K: tile, N: head.cols } });
    if (op === 'gemv') {
      const rows = head.chunks[0].rows;
      add({ op, label: 'lm_head', weight: head, rows, shape: { T: 1, K: head.cols, N: rows } });
    }
  }
  return cases;
}

interface Prepared {
  versions: readonly KernelVersion<unknown>[];
  args: unknown;
  out: { buffer: GPUBuffer; n: number };
  destroy(): void;
}

function prepare(device: GPUDevice, c: TuneCase): Prepared {
  const { T, K, N } = c.shape;
  const band = { buffer: c.weight.chunks[0].buffer, bufferRow: 0, rows: c.rows };
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
  const input = make(T * K, true);
  const output = make(T * N, false);
  const destroy = () => {
    input.destroy();
    output.destroy();
  };
  if (c.op === 'linear') {
    const args: LinearArgs = { x: input, W: c.weight, band, y: output, yStride: N, yCol0: 0, T, accumulate: false };
    return { versions: LINEAR_VERSIONS as readonly KernelVersion<unknown>[], args, out: { buffer: output, n: T * N }, destroy };
  }
  if (c.op === 'linear-dx') {
    const args: LinearDxArgs = { dy: input, dyStride: K, dyCol0: 0, W: c.weight, band, dx: output, T, accumulate: false };
    return { versions: LINEAR_DX_VERSIONS as readonly KernelVersion<unknown>[], args, out: { buffer: output, n: T * N }, destroy };
  }
  const args: GemvArgs = { x: input, W: c.weight, chunk: { ...c.weight.chunks[0], rows: c.rows }, y: output, accumulate: false, xRow: 0 };
  return { versions: GEMV_VERSIONS as readonly KernelVersion<unknown>[], args, out: { buffer: output, n: N }, destroy };
}

/** Times `record` (one call of a version): median ms of `reps` runs after a warm-up. */
async function timeCall(
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
  for (const [i, c] of cases.entries()) {
    if (opts.signal?.aborted) throw abortError();
    const key = shapeKey(c.op, c.shape);
    opts.onProgress?.({ phase: 'tuning kernels', done: i, total: cases.length, detail: `${c.label} ${key}` });
    const p = prepare(device, c);
    const timings: VersionTiming[] = [];
    let reference: Float32Array | undefined;
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
        const record = (pass: GPUComputePassEncoder) => v.record(runner, pass, p.args);
        await runner.run(record);
        const out = await readFloat32(device, p.out.buffer, p.out.n);
        const error = reference ? relErr(out, reference) : 0;
        reference ??= out;
        if (error > (v.features.includes('shader-f16') ? AGREE.f16 : AGREE.f32)) {
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
    const { T, K, N } = c.shape;
    results.push({ op: c.op, label: c.label, key, shape: c.shape, flops: 2 * T * K * N, versions: timings, chosen });
  }
  opts.onProgress?.({ phase: 'tuning kernels', done: cases.length, total: cases.length });
  return results;
}
