// The GPU check shown in the status bar: runs a real compute shader (a small
// f32 matrix product, in row blocks so it reports progress and can be cancelled)
// and compares every output with a float64 CPU reference.
import { readFloat32, storageBuffer, uploadBuffer } from './buffers.ts';
import type { Progress } from '../progress.ts';
import { linear } from './reference/ops.ts';

// minUniformBufferOffsetAlignment is at most 256 on every adapter.
const UNIFORM_SLOT = 256;

export interface SelfTestResult {
  n: number;
  maxAbsError: number;
  ok: boolean;
  millis: number;
}

const WGSL = /* wgsl */ `
struct Params { n: u32, row0: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let row = p.row0 + id.y;
  let col = id.x;
  if (row >= p.n || col >= p.n) { return; }
  var acc = 0.0;
  for (var k = 0u; k < p.n; k++) { acc += a[row * p.n + k] * b[k * p.n + col]; }
  c[row * p.n + col] = acc;
}`;

/** Deterministic inputs in [-1, 1) with few mantissa bits, so f32 sums stay exact-ish. */
function inputs(n: number, seed: number): Float32Array {
  const out = new Float32Array(n * n);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s >>> 24) - 128) / 128;
  }
  return out;
}

/** A·B for n×n row-major matrices, by the float64 reference of the engine's GEMM (x·Wᵀ with W = Bᵀ). */
function matmulReference(a: Float32Array, b: Float32Array, n: number): Float64Array {
  const bT = new Float64Array(n * n);
  for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) bT[j * n + k] = b[k * n + j];
  return linear(Float64Array.from(a), bT, n, n, n);
}

export async function runSelfTest(
  device: GPUDevice,
  opts: { n?: number; blocks?: number; signal?: AbortSignal; onProgress?: (p: Progress) => void } = {},
): Promise<SelfTestResult> {
  const n = opts.n ?? 128;
  const blocks = Math.min(opts.blocks ?? 8, n);
  const t0 = performance.now();
  const a = inputs(n, 1);
  const b = inputs(n, 2);
  const bufA = uploadBuffer(device, a);
  const bufB = uploadBuffer(device, b);
  const bufC = storageBuffer(device, n * n * 4);
  const params = device.createBuffer({ size: UNIFORM_SLOT * blocks, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  try {
    const module = device.createShaderModule({ code: WGSL, label: 'selftest-matmul' });
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const rowsPerBlock = Math.ceil(n / blocks);
    for (let blk = 0; blk < blocks; blk++) {
      opts.signal?.throwIfAborted();
      opts.onProgress?.({ phase: 'gpu check', done: blk, total: blocks, detail: `rows ${blk * rowsPerBlock}…` });
      // One uniform slot per block: writeBuffer to a shared slot would race with earlier submits.
      const offset = blk * UNIFORM_SLOT;
      device.queue.writeBuffer(params, offset, new Uint32Array([n, blk * rowsPerBlock]));
      const bind = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: bufA } },
          { binding: 1, resource: { buffer: bufB } },
          { binding: 2, resource: { buffer: bufC } },
          { binding: 3, resource: { buffer: params, offset, size: 8 } },
        ],
      });
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(Math.ceil(n / 8), Math.ceil(rowsPerBlock / 8));
      pass.end();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
    }
    opts.signal?.throwIfAborted();
    const got = await readFloat32(device, bufC, n * n);
    const want = matmulReference(a, b, n);
    let maxAbsError = 0;
    for (let i = 0; i < want.length; i++) maxAbsError = Math.max(maxAbsError, Math.abs(got[i] - want[i]));
    opts.onProgress?.({ phase: 'gpu check', done: blocks, total: blocks, detail: 'compared with CPU' });
    // Inputs are multiples of 1/128 and products multiples of 2^-14: f32 sums of n<=2^9 terms are exact.
    return { n, maxAbsError, ok: maxAbsError <= 1e-6, millis: performance.now() - t0 };
  } finally {
    bufA.destroy();
    bufB.destroy();
    bufC.destroy();
    params.destroy();
  }
}
