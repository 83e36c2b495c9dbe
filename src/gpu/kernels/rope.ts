// Rotary position embedding (HF rotate_half: element i pairs with i + d/2), in place or
// not. Angles come from a float64 table made on the CPU: pos·θ^(−2i/d) is large for
// late positions, and sin/cos of a large f32 angle lose precision on the GPU.
import { params, u32, i32, type KernelRunner } from '../kernel.ts';

export interface RopeTable {
  /** [positions, d/2] cos then [positions, d/2] sin, f32. */
  buffer: GPUBuffer;
  positions: number;
  half: number;
}

/** `linearFactor` is HF's linear rope_scaling: position p rotates as p / factor. */
export function ropeTableData(positions: number, headDim: number, theta: number, linearFactor = 1): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(2 * positions * half);
  for (let p = 0; p < positions; p++)
    for (let i = 0; i < half; i++) {
      const ang = (p / linearFactor) * theta ** ((-2 * i) / headDim);
      out[p * half + i] = Math.cos(ang);
      out[positions * half + p * half + i] = Math.sin(ang);
    }
  return out;
}

export function createRopeTable(device: GPUDevice, positions: number, headDim: number, theta: number, linearFactor = 1): RopeTable {
  if (headDim % 2) throw new Error(`RoPE needs an even head dimension, got ${headDim}`);
  const data = ropeTableData(positions, headDim, theta, linearFactor);
  const buffer = device.createBuffer({
    size: data.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    label: 'rope.table',
  });
  device.queue.writeBuffer(buffer, 0, data);
  return { buffer, positions, half: headDim / 2 };
}

const WG = 64;
// In place, the input is read from y itself (one buffer cannot be bound twice as read and read_write).
const kernel = (inPlace: boolean) => /* wgsl */ `
${inPlace ? '' : '@group(0) @binding(0) var<storage, read> x: array<f32>;'}
@group(0) @binding(${inPlace ? 0 : 1}) var<storage, read_write> y: array<f32>;
@group(0) @binding(${inPlace ? 1 : 2}) var<storage, read> table: array<f32>;
struct P { nHeads: u32, half: u32, positions: u32, posOffset: u32, sign: i32 }
@group(0) @binding(${inPlace ? 2 : 3}) var<uniform> p: P;
fn load(i: u32) -> f32 { return ${inPlace ? 'y' : 'x'}[i]; }
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) g: vec3u) {
  let t = g.y;
  let hi = g.x; // head * half + i
  if (hi >= p.nHeads * p.half) { return; }
  let h = hi / p.half;
  let i = hi % p.half;
  let pos = t + p.posOffset;
  let c = table[pos * p.half + i];
  let s = f32(p.sign) * table[p.positions * p.half + pos * p.half + i];
  let base = (t * p.nHeads + h) * 2u * p.half;
  let a = load(base + i);
  let b = load(base + i + p.half);
  y[base + i] = a * c - b * s;
  y[base + i + p.half] = b * c + a * s;
}`;

const IN_PLACE = kernel(true);
const OUT_OF_PLACE = kernel(false);

function record(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  x: GPUBuffer,
  y: GPUBuffer,
  table: RopeTable,
  T: number,
  nHeads: number,
  headDim: number,
  posOffset: number,
  sign: 1 | -1,
): void {
  if (headDim / 2 !== table.half) throw new Error(`RoPE table is for head dim ${table.half * 2}, not ${headDim}`);
  if (T + posOffset > table.positions) throw new RangeError(`RoPE table covers ${table.positions} positions, need ${T + posOffset}`);
  const inPlace = x === y;
  runner.dispatch(
    pass,
    runner.pipeline(inPlace ? IN_PLACE : OUT_OF_PLACE, 'rope'),
    inPlace ? [y, table.buffer] : [x, y, table.buffer],
    params(u32(nHeads), u32(table.half), u32(table.positions), u32(posOffset), i32(sign)),
    [Math.ceil((nHeads * table.half) / WG), T],
  );
}

/** y = RoPE(x) for [T, nHeads·headDim] (y may be x). */
export function ropeForward(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  x: GPUBuffer,
  y: GPUBuffer,
  table: RopeTable,
  T: number,
  nHeads: number,
  headDim: number,
  posOffset: number,
): void {
  record(runner, pass, x, y, table, T, nHeads, headDim, posOffset, 1);
}

/** dx = RoPEᵀ(dy): the rotation by the opposite angle (dx may be dy). */
export function ropeBackward(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  dy: GPUBuffer,
  dx: GPUBuffer,
  table: RopeTable,
  T: number,
  nHeads: number,
  headDim: number,
  posOffset: number,
): void {
  record(runner, pass, dy, dx, table, T, nHeads, headDim, posOffset, -1);
}

// q and k of one layer in one dispatch, in place: heads [0, nQ) of q, then [0, nK) of k.
const QK = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(0) @binding(1) var<storage, read_write> k: array<f32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
struct P { nQ: u32, nK: u32, half: u32, positions: u32, posOffset: u32, sign: i32 }
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) g: vec3u) {
  let t = g.y;
  var hi = g.x; // head * half + i over q's heads, then k's
  if (hi >= (p.nQ + p.nK) * p.half) { return; }
  let isK = hi >= p.nQ * p.half;
  if (isK) { hi -= p.nQ * p.half; }
  let h = hi / p.half;
  let i = hi % p.half;
  let pos = t + p.posOffset;
  let c = table[pos * p.half + i];
  let s = f32(p.sign) * table[p.positions * p.half + pos * p.half + i];
  let nHeads = select(p.nQ, p.nK, isK);
  let base = (t * nHeads + h) * 2u * p.half;
  if (isK) {
    let a = k[base + i];
    let b = k[base + i + p.half];
    k[base + i] = a * c - b * s;
    k[base + i + p.half] = b * c + a * s;
  } else {
    let a = q[base + i];
    let b = q[base + i + p.half];
    q[base + i] = a * c - b * s;
    q[base + i + p.half] = b * c + a * s;
  }
}`;

/**
 * RoPE of q [T, nQ·headDim] and k [T, nK·headDim] in place, in one dispatch: the forward
 * rotation (sign 1) or its transpose for the gradients (sign −1).
 */
export function ropeQK(
  runner: KernelRunner,
  pass: GPUComputePassEncoder,
  q: GPUBuffer,
  k: GPUBuffer,
  table: RopeTable,
  T: number,
  nQ: number,
  nK: number,
  headDim: number,
  posOffset: number,
  sign: 1 | -1,
): void {
  if (headDim / 2 !== table.half) throw new Error(`RoPE table is for head dim ${table.half * 2}, not ${headDim}`);
  if (T + posOffset > table.positions) throw new RangeError(`RoPE table covers ${table.positions} positions, need ${T + posOffset}`);
  runner.dispatch(
    pass,
    runner.pipeline(QK, 'rope_qk'),
    [q, k, table.buffer],
    params(u32(nQ), u32(nK), u32(table.half), u32(table.positions), u32(posOffset), i32(sign)),
    [Math.ceil(((nQ + nK) * table.half) / WG), T],
  );
}
