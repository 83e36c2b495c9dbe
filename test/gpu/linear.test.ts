// Every version of the linear forward (y = x·Wᵀ + b, with accumulate) and of its input
// gradient (dx = dy·W) that this adapter can run, against the float64 reference on the
// same bf16-rounded weights, whole and row-chunked, at shapes whose T, K and N are not
// multiples of the 64×64×32 tiles.
// Tolerances (max error over the tensor ÷ max |reference|):
// - f32 versions: 1e-5 (f32 dot products of ≤ 136 terms: a few units of 2⁻²⁴ each);
// - f16 versions (tiled-f16): 4e-3. Inputs are rounded to f16 (unit roundoff u = 2⁻¹¹ ≈
//   4.9e-4; bf16 weights are exact in f16), and each pair of products is rounded once more
//   in f16 before the f32 sum: ≈ 3u per term, summing like a random walk, so errors near
//   u·√K·|x||w| against outputs of size ≈ √K·|x||w|; 8u leaves room for the max over a tensor.
import { describe, expect, it } from 'vitest';
import * as ref from '../../src/gpu/reference/ops.ts';
import {
  LINEAR_DX_VERSIONS,
  LINEAR_VERSIONS,
  linearBackwardInput,
  linearForward,
  type LinearArgs,
  type LinearDxArgs,
} from '../../src/gpu/kernels/linear.ts';
import type { KernelVersion } from '../../src/gpu/kernel-versions.ts';
import { bf16Weight, f32Buffer, gpuSkipReason, readF64, skipNote, testRunner } from '../helpers/gpu.ts';
import { f32Round, randn, relErr } from '../helpers/numeric.ts';

const tolerance = (v: KernelVersion<unknown>) => (v.features.includes('shader-f16') ? 4e-3 : 1e-5);

const SHAPES: Array<[T: number, inF: number, outF: number, chunkRows: number]> = [
  [7, 40, 12, 1000],
  [70, 72, 132, 1000], // two tiles of tokens, three of outputs, three of K: all ragged
  [37, 136, 72, 16], // 5 chunks of 16 rows, the last one short (8 rows)
  [1, 64, 12, 4],
  [9, 40, 13, 1000], // out not a multiple of 4: tiled dx cannot read dy as vec4f
  [7, 18, 13, 3], // K not a multiple of 8: only the register versions handle it
];

describe.skipIf(!!gpuSkipReason)(`linear kernel versions${skipNote}`, () => {
  for (const [T, inF, outF, chunkRows] of SHAPES) {
    const x = f32Round(randn(T * inF, 1));
    const bias = f32Round(randn(outF, 2));
    const dy = f32Round(randn(T * outF, 3));
    const y0 = f32Round(randn(T * outF, 4));
    const shape = `T=${T} in=${inF} out=${outF} chunk=${chunkRows} rows`;

    for (const v of LINEAR_VERSIONS) {
      it(`${v.name}: ${shape}`, async (ctx) => {
        const runner = await testRunner();
        if (!runner.kernels.available(v)) ctx.skip();
        const { weight, rounded: W } = await bf16Weight(randn(outF * inF, 5, 0.3), outF, inF, chunkRows * inF * 2);
        const [bx, bb, by, byAcc] = await Promise.all([x, bias, new Float64Array(T * outF), y0].map(f32Buffer));
        const calls = (y: GPUBuffer, withBias: boolean, accumulate: boolean): LinearArgs[] =>
          weight.chunks.map((c) => ({
            x: bx,
            W: weight,
            band: { buffer: c.buffer, bufferRow: 0, rows: c.rows },
            bias: withBias ? { buffer: bb, offset: c.rowStart } : undefined,
            y,
            yStride: outF,
            yCol0: c.rowStart,
            T,
            accumulate,
          }));
        const all = [...calls(by, true, false), ...calls(byAcc, false, true)];
        if (!all.every((a) => v.supports(a))) {
          expect(inF % 8).not.toBe(0); // the tiled versions take every shape a real model has
          ctx.skip();
        }
        await runner.run((pass) => {
          for (const a of all) v.record(runner, pass, a);
        });
        const tol = tolerance(v);
        const e1 = relErr(await readF64(by, T * outF), ref.linear(x, W, T, inF, outF, bias));
        const acc = ref.linear(x, W, T, inF, outF).map((e, i) => e + y0[i]);
        const e2 = relErr(await readF64(byAcc, T * outF), acc);
        console.log(`[gpu tests] ${v.name} ${shape}: error ${e1.toExponential(2)}, accumulate ${e2.toExponential(2)} (tolerance ${tol})`);
        expect(e1).toBeLessThan(tol);
        expect(e2).toBeLessThan(tol);
      });
    }

    for (const v of LINEAR_DX_VERSIONS) {
      it(`${v.name}: ${shape}`, async (ctx) => {
        const runner = await testRunner();
        if (!runner.kernels.available(v)) ctx.skip();
        const { weight, rounded: W } = await bf16Weight(randn(outF * inF, 5, 0.3), outF, inF, chunkRows * inF * 2);
        const [bdy, bdx] = await Promise.all([dy, new Float64Array(T * inF)].map(f32Buffer));
        const all: LinearDxArgs[] = weight.chunks.map((c, i) => ({
          dy: bdy,
          dyStride: outF,
          dyCol0: c.rowStart,
          W: weight,
          band: { buffer: c.buffer, bufferRow: 0, rows: c.rows },
          dx: bdx,
          T,
          accumulate: i > 0,
        }));
        if (!all.every((a) => v.supports(a))) {
          // Tiled dx reads dy as vec4f: K, the row stride and every chunk's rows must divide by 4 (8 for K).
          expect(inF % 8 !== 0 || outF % 4 !== 0 || all.some((a) => a.band.rows % 4 !== 0)).toBe(true);
          ctx.skip();
        }
        await runner.run((pass) => {
          for (const a of all) v.record(runner, pass, a);
        });
        const e = relErr(await readF64(bdx, T * inF), ref.linearBackward(dy, W, T, inF, outF));
        console.log(`[gpu tests] ${v.name} ${shape}: error ${e.toExponential(2)} (tolerance ${tolerance(v)})`);
        expect(e).toBeLessThan(tolerance(v));
      });
    }
  }

  it('a forced family falls back to the register version where its version does not fit the shape', async () => {
    const runner = await testRunner();
    const [T, inF, outF] = [5, 18, 12];
    const x = f32Round(randn(T * inF, 1));
    const { weight, rounded: W } = await bf16Weight(randn(outF * inF, 5, 0.3), outF, inF, 1 << 20);
    const [bx, by, bdx] = await Promise.all([x, new Float64Array(T * outF), new Float64Array(T * inF)].map(f32Buffer));
    runner.kernels.forced = 'tiled';
    await runner.run((pass) => {
      linearForward(runner, pass, bx, weight, undefined, by, T);
      linearBackwardInput(runner, pass, by, weight, bdx, T, false);
    });
    const y = ref.linear(x, W, T, inF, outF);
    expect(relErr(await readF64(by, T * outF), y)).toBeLessThan(1e-5);
    expect(relErr(await readF64(bdx, T * inF), ref.linearBackward(Float64Array.from(Float32Array.from(y)), W, T, inF, outF))).toBeLessThan(
      1e-5,
    );
  });
});
