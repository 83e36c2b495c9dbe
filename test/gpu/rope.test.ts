// RoPE against the reference, in place and not, with a position offset.
// Tolerance 1e-6: the angle table is float64-made, the rotation is two f32 products.
import { describe, expect, it } from 'vitest';
import * as ref from '../../src/gpu/reference/ops.ts';
import { createRopeTable, ropeBackward, ropeForward } from '../../src/gpu/kernels/rope.ts';
import { f32Buffer, gpuSkipReason, readF64, skipNote, testDevice, testRunner } from '../helpers/gpu.ts';
import { f32Round, randn, relErr } from '../helpers/numeric.ts';

describe.skipIf(!!gpuSkipReason)(`rope kernel${skipNote}`, () => {
  it('forward (in place and not) and backward match the reference', async () => {
    const runner = await testRunner();
    const { device } = await testDevice();
    const [T, nH, hd, theta, off] = [9, 3, 8, 1e6, 4];
    const table = createRopeTable(device, T + off, hd, theta);
    const x = f32Round(randn(T * nH * hd, 1));
    const [bx, by, bz] = await Promise.all([f32Buffer(x), f32Buffer(new Float64Array(x.length)), f32Buffer(x)]);
    await runner.run((pass) => {
      ropeForward(runner, pass, bx, by, table, T, nH, hd, off);
      ropeBackward(runner, pass, bz, bz, table, T, nH, hd, off);
    });
    expect(relErr(await readF64(by, x.length), ref.rope(x, T, nH, hd, theta, off))).toBeLessThan(1e-6);
    expect(relErr(await readF64(bz, x.length), ref.ropeBackward(x, T, nH, hd, theta, off))).toBeLessThan(1e-6);
  });
});
