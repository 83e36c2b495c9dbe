// Linear forward (with bias, accumulate) and input gradient with bf16 weights, whole and
// row-chunked, against the float64 reference on the same bf16-rounded weights.
// Tolerance 1e-5 relative: f32 dot products of ≤ 100 terms.
import { describe, expect, it } from 'vitest';
import * as ref from '../../src/gpu/reference/ops.ts';
import { linearBackwardInput, linearForward } from '../../src/gpu/kernels/linear.ts';
import { bf16Weight, f32Buffer, gpuSkipReason, readF64, skipNote, testRunner } from '../helpers/gpu.ts';
import { f32Round, randn, relErr } from '../helpers/numeric.ts';

describe.skipIf(!!gpuSkipReason)(`linear kernel${skipNote}`, () => {
  for (const [T, inF, outF, chunkRows] of [
    [7, 18, 13, 1000],
    [37, 64, 70, 1000],
    [7, 18, 13, 3], // 5 chunks, the last one short
    [1, 100, 9, 4],
  ]) {
    it(`T=${T} in=${inF} out=${outF} chunk=${chunkRows} rows`, async () => {
      const runner = await testRunner();
      const x = f32Round(randn(T * inF, 1));
      const bias = f32Round(randn(outF, 2));
      const dy = f32Round(randn(T * outF, 3));
      const y0 = f32Round(randn(T * outF, 4));
      const { weight, rounded: W } = await bf16Weight(randn(outF * inF, 5, 0.3), outF, inF, chunkRows * inF * 2);
      expect(weight.chunks.length).toBe(Math.ceil(outF / Math.min(chunkRows, outF)));
      const [bx, bb, bdy, by, byAcc, bdx] = await Promise.all(
        [x, bias, dy, new Float64Array(T * outF), y0, new Float64Array(T * inF)].map(f32Buffer),
      );
      await runner.run((pass) => {
        linearForward(runner, pass, bx, weight, bb, by, T, false);
        linearForward(runner, pass, bx, weight, undefined, byAcc, T, true);
        linearBackwardInput(runner, pass, bdy, weight, bdx, T, false);
      });
      expect(relErr(await readF64(by, T * outF), ref.linear(x, W, T, inF, outF, bias))).toBeLessThan(1e-5);
      const acc = ref.linear(x, W, T, inF, outF).map((v, i) => v + y0[i]);
      expect(relErr(await readF64(byAcc, T * outF), acc)).toBeLessThan(1e-5);
      expect(relErr(await readF64(bdx, T * inF), ref.linearBackward(dy, W, T, inF, outF))).toBeLessThan(1e-5);
    });
  }
});
