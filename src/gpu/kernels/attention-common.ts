// What the simple (attention.ts) and flash (attention-flash.ts) attention kernels share:
// the buffers each pass binds (in binding order), the uniform struct, the shape check and
// the dispatch by buffer name. Sharing them keeps the two versions interchangeable:
// either version's forward pairs with either version's backward.
import { params, u32, f32, type KernelRunner } from '../kernel.ts';

/** The buffers an attention pass binds. */
export type AttentionBinding = 'q' | 'k' | 'v' | 'out' | 'lse' | 'dout' | 'dq' | 'dk' | 'dv' | 'delta';

/** forward, backward dq (+ delta), backward dk/dv. */
export type AttentionPassKind = 'fwd' | 'bq' | 'bkv';

const BINDINGS: Record<AttentionPassKind, { read: AttentionBinding[]; write: AttentionBinding[] }> = {
  fwd: { read: ['q', 'k', 'v'], write: ['out', 'lse'] },
  bq: { read: ['q', 'k', 'v', 'out', 'lse', 'dout'], write: ['dq', 'delta'] },
  bkv: { read: ['q', 'k', 'v', 'lse', 'dout', 'delta'], write: ['dk', 'dv'] },
};

/** The storage buffers of a pass, in binding order (the uniform `p` binds after them). */
export function attentionBindings(kind: AttentionPassKind): AttentionBinding[] {
  return [...BINDINGS[kind].read, ...BINDINGS[kind].write];
}

/** WGSL declarations of a pass's bindings, the uniform struct P and the head size HD. */
export function attentionHeader(kind: AttentionPassKind, hd: number): string {
  const { read, write } = BINDINGS[kind];
  const lines = [
    ...read.map((b, i) => `@group(0) @binding(${i}) var<storage, read> ${b}: array<f32>;`),
    ...write.map((b, i) => `@group(0) @binding(${read.length + i}) var<storage, read_write> ${b}: array<f32>;`),
    `@group(0) @binding(${read.length + write.length}) var<uniform> p: P;`,
    `const HD: u32 = ${hd}u;`,
    'struct P { T: u32, nHeads: u32, nKv: u32, scale: f32 }',
  ];
  return lines.join('\n');
}

/** Query heads must split evenly over the kv heads (grouped-query attention). */
export function checkHeads(nHeads: number, nKv: number): void {
  if (nHeads % nKv) throw new Error(`attention heads ${nHeads} must be a multiple of kv heads ${nKv}`);
}

/** Workgroups along x beyond the WebGPU per-dimension limit. */
export function checkRows(T: number, rowsPerWorkgroup: number): void {
  if (Math.ceil(T / rowsPerWorkgroup) > 65535) throw new RangeError(`sequence of ${T} tokens is too long`);
}

/** The uniform P: T, nHeads, nKv and the 1/√d score scale. */
export function attentionParams(T: number, nHeads: number, nKv: number, hd: number): ArrayBuffer {
  return params(u32(T), u32(nHeads), u32(nKv), f32(1 / Math.sqrt(hd)));
}

/** Records one pass, binding `buffers` by name in `bindings` order (attentionBindings). */
export function dispatchAttention(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  bindings: AttentionBinding[],
  code: string,
  label: string,
  buffers: Partial<Record<AttentionBinding, GPUBuffer>>,
  uniform: ArrayBuffer,
  workgroups: [number, number],
): void {
  const bound = bindings.map((b) => {
    const buffer = buffers[b];
    if (!buffer) throw new Error(`attention pass ${label} needs buffer ${b}`);
    return buffer;
  });
  runner.dispatch(pass, runner.pipeline(code, label), bound, uniform, workgroups);
}
