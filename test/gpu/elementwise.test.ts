// SwiGLU gate, residual add and copy against the reference (elementwise: 1e-6 relative,
// exp/division in f32 are within a few ulps).
import { describe, expect, it } from 'vitest';
import * as ref from '../../src/gpu/reference/ops.ts';
import { addInPlace, copyInto, siluGateBackward, siluGateForward } from '../../src/gpu/kernels/elementwise.ts';
import { f32Buffer, gpuSkipReason, readF64, skipNote, testRunner } from '../helpers/gpu.ts';
import { f32Round, randn, relErr } from '../helpers/numeric.ts';

describe.skipIf(!!gpuSkipReason)(`elementwise kernels${skipNote}`, () => {
  it('silu-gate forward and backward match the reference', async () => {
    const runner = await testRunner();
    const n = 1000;
    const gate = f32Round(randn(n, 1, 3));
    const up = f32Round(randn(n, 2));
    const dh = f32Round(randn(n, 3));
    const bufs = await Promise.all([gate, up, dh, new Float64Array(n), new Float64Array(n), new Float64Array(n)].map(f32Buffer));
    await runner.run((pass) => {
      siluGateForward(runner, pass, bufs[0], bufs[1], bufs[3], n);
      siluGateBackward(runner, pass, bufs[0], bufs[1], bufs[2], bufs[4], bufs[5], n);
    });
    expect(relErr(await readF64(bufs[3], n), ref.siluGate(gate, up))).toBeLessThan(1e-6);
    const { dgate, dup } = ref.siluGateBackward(gate, up, dh);
    expect(relErr(await readF64(bufs[4], n), dgate)).toBeLessThan(1e-6);
    expect(relErr(await readF64(bufs[5], n), dup)).toBeLessThan(1e-6);
  });

  it('add and copy cover sizes that need a 2-D grid', async () => {
    const runner = await testRunner();
    const n = 65535 * 256 + 300; // more workgroups than one dimension allows
    const a = new Float64Array(n).map((_, i) => i % 7);
    const b = new Float64Array(n).map((_, i) => i % 5);
    const [ba, bb, bc] = await Promise.all([f32Buffer(a), f32Buffer(b), f32Buffer(new Float64Array(n))]);
    await runner.run((pass) => {
      addInPlace(runner, pass, ba, bb, n);
      copyInto(runner, pass, ba, bc, n);
    });
    const got = await readF64(bc, n);
    for (const i of [0, 1, 65535 * 256 - 1, 65535 * 256, n - 1]) expect(got[i]).toBe((i % 7) + (i % 5));
  });
});
