// The kernel runner's dispatch path: explicit layouts read from the WGSL, every dispatch's
// parameters in one uniform buffer at dynamic offsets (slots reused after each submit, the
// buffer grown when one pass needs more), and bind groups built once per pipeline and buffers.
import { describe, expect, it } from 'vitest';
import { bindingLayout, params, u32, f32 } from '../../src/gpu/kernel.ts';
import { f32Buffer, gpuSkipReason, readF64, skipNote, testRunner } from '../helpers/gpu.ts';

// y[i] = y[i] * p.scale + p.add, for i < p.n
const AXPB = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
struct P { n: u32, scale: f32, add: f32 }
@group(0) @binding(1) var<uniform> p: P;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < p.n) { y[g.x] = y[g.x] * p.scale + p.add; }
}`;

describe.skipIf(!!gpuSkipReason)(`kernel runner${skipNote}`, () => {
  it('reads a layout from the WGSL: storage access modes, the parameters at a dynamic offset', async () => {
    await testRunner(); // installs the WebGPU globals (GPUShaderStage)
    const code = `@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage> b: array<u32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> p: P;`;
    expect(bindingLayout(code).map((e) => [e.binding, e.buffer])).toEqual([
      [0, { type: 'read-only-storage' }],
      [1, { type: 'read-only-storage' }],
      [2, { type: 'storage' }],
      [3, { type: 'uniform', hasDynamicOffset: true }],
    ]);
  });

  it('gives each dispatch of a pass its own parameters, reuses bind groups across submits, and grows the parameter buffer', async () => {
    const runner = await testRunner();
    const n = 100;
    const y = await f32Buffer(new Float64Array(n));
    const pipe = runner.pipeline(AXPB, 'axpb');
    // 1,500 dispatches in one pass (more than the first buffer's 1,024 slots): y = Σ i·0.5 over them.
    const many = 1500;
    await runner.run((pass) => {
      for (let i = 0; i < many; i++) runner.dispatch(pass, pipe, [y], params(u32(n), f32(1), f32(i * 0.5)), [2]);
    });
    const expected = (many * (many - 1)) / 4;
    expect([...(await readF64(y, n))].every((v) => v === expected)).toBe(true);
    // Same pipeline and buffer again: no new bind group; the parameters are this submit's.
    const created = runner.bindGroupsCreated;
    await runner.run((pass) => {
      runner.dispatch(pass, pipe, [y], params(u32(n), f32(0), f32(3)), [2]);
      runner.dispatch(pass, pipe, [y], params(u32(n), f32(2), f32(1)), [2]);
    });
    expect(runner.bindGroupsCreated).toBe(created);
    expect([...(await readF64(y, n))].every((v) => v === 7)).toBe(true);
    // A different buffer is a different bind group.
    const z = await f32Buffer(new Float64Array(n).fill(1));
    await runner.run((pass) => runner.dispatch(pass, pipe, [z], params(u32(50), f32(3), f32(0)), [1]));
    expect(runner.bindGroupsCreated).toBe(created + 1);
    const got = await readF64(z, n);
    expect(got[0]).toBe(3);
    expect(got[49]).toBe(3);
    expect(got[50]).toBe(1);
  });
});
