// RoPE against the reference, in place and not, with a position offset.
// Tolerance 1e-6: the angle table is float64-made, the rotation is two f32 products.
import { describe, expect, it } from 'vitest';
import * as ref from '../../src/gpu/reference/ops.ts';
import { createRopeTable, ropeBackward, ropeForward, ropeQK } from '../../src/gpu/kernels/rope.ts';
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

  it('q and k in one dispatch (forward and backward, GQA head counts) match the reference', async () => {
    const runner = await testRunner();
    const { device } = await testDevice();
    const [T, nQ, nK, hd, theta, off] = [7, 6, 2, 10, 1e4, 3];
    const table = createRopeTable(device, T + off, hd, theta);
    const q = f32Round(randn(T * nQ * hd, 1));
    const k = f32Round(randn(T * nK * hd, 2));
    const [bq, bk, bdq, bdk] = await Promise.all([q, k, q, k].map(f32Buffer));
    await runner.run((pass) => {
      ropeQK(runner, pass, bq, bk, table, T, nQ, nK, hd, off, 1);
      ropeQK(runner, pass, bdq, bdk, table, T, nQ, nK, hd, off, -1);
    });
    expect(relErr(await readF64(bq, q.length), ref.rope(q, T, nQ, hd, theta, off))).toBeLessThan(1e-6);
    expect(relErr(await readF64(bk, k.length), ref.rope(k, T, nK, hd, theta, off))).toBeLessThan(1e-6);
    expect(relErr(await readF64(bdq, q.length), ref.ropeBackward(q, T, nQ, hd, theta, off))).toBeLessThan(1e-6);
    expect(relErr(await readF64(bdk, k.length), ref.ropeBackward(k, T, nK, hd, theta, off))).toBeLessThan(1e-6);
  });
});
