// The adapter's peaks, measured (nothing is known in advance about a WebGPU adapter):
// - f32 FMA throughput: every thread runs 8 independent vec4 fma chains (no memory traffic
//   in the loop, enough parallel chains to hide the FMA latency), 2 FLOP per lane per fma;
// - copy bandwidth: a grid-stride vec4<f32> copy between two buffers far larger than any
//   cache, bytes = read + written.
// Both timed like the kernel versions (GPU timestamps where present), median of a few runs,
// with the work grown until one run takes long enough to time.
import { params, u32, type KernelRunner } from '../src/gpu/kernel.ts';
import { timeCall } from '../src/gpu/tuner.ts';

const FMA = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> out: array<vec4f>;
struct P { iters: u32 }
@group(0) @binding(1) var<uniform> p: P;
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) g: vec3u) {
  var a0 = vec4f(f32(g.x) * 1e-9);
  var a1 = a0 + 1.0; var a2 = a0 + 2.0; var a3 = a0 + 3.0;
  var a4 = a0 + 4.0; var a5 = a0 + 5.0; var a6 = a0 + 6.0; var a7 = a0 + 7.0;
  let b = vec4f(0.9999);
  let c = vec4f(1e-4);
  for (var i = 0u; i < p.iters; i++) {
    a0 = fma(a0, b, c); a1 = fma(a1, b, c); a2 = fma(a2, b, c); a3 = fma(a3, b, c);
    a4 = fma(a4, b, c); a5 = fma(a5, b, c); a6 = fma(a6, b, c); a7 = fma(a7, b, c);
  }
  out[g.x] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7; // keeps every chain live
}`;

const COPY = /* wgsl */ `
@group(0) @binding(0) var<storage, read> src: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4f>;
struct P { n: u32, stride: u32 }
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) g: vec3u) {
  for (var i = g.x; i < p.n; i += p.stride) { dst[i] = src[i]; }
}`;

export interface Peaks {
  /** f32 FMA throughput, GFLOP/s. */
  gflops: number;
  /** Copy bandwidth (read + write), GB/s. */
  gbps: number;
  clock: string;
  method: string;
}

export async function measurePeaks(runner: KernelRunner, software: boolean): Promise<Peaks> {
  const device = runner.device;
  // FMA: enough threads to fill a large GPU (1M) or a CPU's cores (8K); iterations doubled until a run takes ≥ 20 ms.
  const workgroups = software ? 32 : 4096;
  const threads = workgroups * 256;
  const out = device.createBuffer({ size: threads * 16, usage: GPUBufferUsage.STORAGE });
  const fma = runner.pipeline(FMA, 'peak fma');
  let iters = 64;
  let t = await timeCall(runner, (pass) => runner.dispatch(pass, fma, [out], params(u32(iters)), [workgroups]), 3);
  while (t.ms < 20 && iters < 1 << 20) {
    iters *= Math.min(16, Math.max(2, Math.ceil(20 / Math.max(t.ms, 0.01))));
    t = await timeCall(runner, (pass) => runner.dispatch(pass, fma, [out], params(u32(iters)), [workgroups]), 3);
  }
  const gflops = (threads * iters * 8 * 4 * 2) / t.ms / 1e6;
  out.destroy();
  // Copy: the largest buffer up to 256 MiB the device binds (software: 64 MiB).
  const bytes = Math.min(software ? 64 << 20 : 256 << 20, device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  const n = Math.floor(bytes / 16);
  const [src, dst] = [0, 1].map(() => device.createBuffer({ size: n * 16, usage: GPUBufferUsage.STORAGE }));
  const copyWg = software ? 64 : 8192;
  const copy = runner.pipeline(COPY, 'peak copy');
  const c = await timeCall(runner, (pass) => runner.dispatch(pass, copy, [src, dst], params(u32(n), u32(copyWg * 256)), [copyWg]), 5);
  const gbps = (2 * n * 16) / c.ms / 1e6;
  src.destroy();
  dst.destroy();
  return {
    gflops,
    gbps,
    clock: t.clock ?? 'wall-clock',
    method:
      `f32 FMA peak: ${threads.toLocaleString('en')} threads each running 8 independent vec4 fma chains for ${iters.toLocaleString('en')} iterations ` +
      `(2 FLOP per lane per fma); bandwidth: a ${(n * 16) / 2 ** 20} MiB vec4<f32> buffer copied by a grid-stride kernel (bytes read + written); ` +
      `median of runs timed by ${t.clock === 'gpu-timestamps' ? 'GPU timestamps' : 'wall clock to onSubmittedWorkDone'}`,
  };
}
