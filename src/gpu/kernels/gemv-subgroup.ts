// Decode GEMV with subgroups: y = x·Wᵀ (+ b) for one token, 16-bit W [out, in].
// Decoding is bound by reading W once (2 bytes per 2 FLOPs), so the kernel is about load
// width and not stalling: each lane reads W as vec4<u32> (8 weights, 16 bytes) and x as
// two vec4f, a whole subgroup walks one row, and subgroupAdd reduces it in registers: no
// workgroup memory and no barriers. The subgroup size differs by GPU (4–128) and is not
// known when dispatching, so a workgroup of 64 threads owns ROWS rows and its subgroups
// take slots from a workgroup atomic (no assumption about how lanes map to subgroups);
// each subgroup then loops over rows slot, slot + subgroups, …
import { params, u32, grid1d, type KernelRunner } from '../kernel.ts';
import type { KernelVersion } from '../kernel-versions.ts';
import type { GemvArgs } from './gemv.ts';

const WG = 64;
const ROWS = 8;

const gemvSubgroup = (dtype: 'bf16' | 'f16') => /* wgsl */ `
enable subgroups;
diagnostic(off, subgroup_uniformity);
@group(0) @binding(0) var<storage, read> x: array<vec4f>;
@group(0) @binding(1) var<storage, read> w: array<vec4u>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
struct P { K: u32, rows: u32, yCol0: u32, flags: u32, xOff: u32 }
@group(0) @binding(4) var<uniform> p: P;
fn u2(w: u32) -> vec2f { ${dtype === 'bf16' ? 'return vec2f(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u));' : 'return unpack2x16float(w);'} }
var<workgroup> slots: atomic<u32>;
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
    @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sgSize: u32) {
  var mine = 0u;
  if (lane == 0u) { mine = atomicAdd(&slots, 1u); }
  let slot = subgroupBroadcastFirst(mine);
  let subgroups = (${WG}u + sgSize - 1u) / sgSize;
  let vecs = p.K / 8u; // vec4u per row
  let first = (wg.y * nwg.x + wg.x) * ${ROWS}u;
  for (var r = slot; r < ${ROWS}u; r += subgroups) {
    let o = first + r;
    if (o >= p.rows) { break; }
    let row = o * vecs;
    var acc = 0.0;
    for (var q = lane; q < vecs; q += sgSize) {
      let wv = w[row + q];
      let xi = p.xOff / 4u + 2u * q;
      acc += dot(x[xi], vec4f(u2(wv.x), u2(wv.y))) + dot(x[xi + 1u], vec4f(u2(wv.z), u2(wv.w)));
    }
    let total = subgroupAdd(acc);
    if (lane == 0u) {
      var v = total;
      if ((p.flags & 1u) != 0u) { v += b[p.yCol0 + o]; }
      let yi = p.yCol0 + o;
      if ((p.flags & 2u) != 0u) { v += y[yi]; }
      y[yi] = v;
    }
  }
}`;

const CODE = { bf16: gemvSubgroup('bf16'), f16: gemvSubgroup('f16') };

export const GEMV_SUBGROUP: KernelVersion<GemvArgs> = {
  op: 'gemv',
  name: 'gemv.subgroup',
  family: 'subgroup',
  features: ['subgroups'],
  workgroupBytes: 4,
  summary: `a subgroup per row, 16-byte loads, subgroupAdd reduction; ${ROWS} rows per 64-thread workgroup, no barriers`,
  // 16-byte loads of W rows and of x need rows whose length divides by 8.
  supports: (a) => a.W.cols % 8 === 0,
  record(runner: KernelRunner, pass, a) {
    const flags = (a.bias ? 1 : 0) | (a.accumulate ? 2 : 0);
    runner.dispatch(
      pass,
      runner.pipeline(CODE[a.W.dtype], `gemv_subgroup_${a.W.dtype}`),
      [a.x, a.chunk.buffer, a.bias ?? a.x, a.y],
      params(u32(a.W.cols), u32(a.chunk.rows), u32(a.chunk.rowStart), u32(flags), u32(a.xRow * a.W.cols)),
      grid1d(Math.ceil(a.chunk.rows / ROWS), 1),
    );
  },
};
