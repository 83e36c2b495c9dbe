// LoRA forward/backward (with and without dropout) against the float64 reference, whose
// dropout mask is rebuilt on the CPU from the same hash. Tolerance 1e-5 relative.
import { describe, expect, it } from 'vitest';
import * as ref from '../../src/gpu/reference/ops.ts';
import { dropoutMask, loraBackward, loraForward } from '../../src/gpu/kernels/lora.ts';
import { f32Buffer, gpuSkipReason, readF64, skipNote, testRunner } from '../helpers/gpu.ts';
import { f32Round, randn, relErr } from '../helpers/numeric.ts';

describe.skipIf(!!gpuSkipReason)(`lora kernel${skipNote}`, () => {
  for (const dropout of [undefined, { p: 0.25, seed: 1234 }]) {
    it(`forward and backward match the reference (dropout ${dropout?.p ?? 0})`, async () => {
      const runner = await testRunner();
      const [T, inF, outF, r, scale] = [11, 20, 14, 4, 2];
      const x = f32Round(randn(T * inF, 1));
      const A = f32Round(randn(r * inF, 2, 0.3));
      const B = f32Round(randn(outF * r, 3, 0.3));
      const dy = f32Round(randn(T * outF, 4));
      const y0 = f32Round(randn(T * outF, 5));
      const dx0 = f32Round(randn(T * inF, 6));
      const dA0 = f32Round(randn(r * inF, 7));
      const dB0 = f32Round(randn(outF * r, 8));
      const bufs = await Promise.all([x, A, B, new Float64Array(T * r), y0, dy, dA0, dB0, dx0, new Float64Array(T * r)].map(f32Buffer));
      const [bx, bA, bB, bxa, by, bdy, bdA, bdB, bdx, bdxa] = bufs;
      await runner.run((pass) => {
        loraForward(runner, pass, bx, bA, bB, bxa, by, T, inF, outF, r, scale, dropout);
        loraBackward(runner, pass, bx, bA, bB, bxa, bdy, bdA, bdB, bdx, bdxa, T, inF, outF, r, scale, dropout);
      });
      const mask = dropout ? dropoutMask(dropout.seed, T, inF, dropout.p) : undefined;
      if (mask) {
        const dropped = mask.filter((m) => m === 0).length / mask.length;
        expect(dropped).toBeGreaterThan(0.1); // the mask really drops about p of the inputs
        expect(dropped).toBeLessThan(0.4);
      }
      const y = ref.lora(x, A, B, T, inF, outF, r, scale, mask).map((v, i) => v + y0[i]);
      expect(relErr(await readF64(by, T * outF), y)).toBeLessThan(1e-5);
      const g = ref.loraBackward(x, A, B, dy, T, inF, outF, r, scale, mask);
      expect(
        relErr(
          await readF64(bdx, T * inF),
          g.dx.map((v, i) => v + dx0[i]),
        ),
      ).toBeLessThan(1e-5);
      expect(
        relErr(
          await readF64(bdA, r * inF),
          g.dA.map((v, i) => v + dA0[i]),
        ),
      ).toBeLessThan(1e-5);
      expect(
        relErr(
          await readF64(bdB, outF * r),
          g.dB.map((v, i) => v + dB0[i]),
        ),
      ).toBeLessThan(1e-5);
    });
  }
});
