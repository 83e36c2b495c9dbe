// RMSNorm forward/backward against the float64 reference. Tolerance 2e-5 relative:
// f32 sums over H ≤ 300 terms carry ~H·2⁻²⁴ relative error, far below it.
import { describe, expect, it } from 'vitest';
import * as ref from '../../src/gpu/reference/ops.ts';
import { rmsnormBackward, rmsnormForward } from '../../src/gpu/kernels/rmsnorm.ts';
import { f32Buffer, gpuSkipReason, readF64, skipNote, testRunner } from '../helpers/gpu.ts';
import { f32Round, randn, relErr } from '../helpers/numeric.ts';

describe.skipIf(!!gpuSkipReason)(`rmsnorm kernel${skipNote}`, () => {
  for (const [T, H] of [
    [5, 16],
    [3, 300],
    [1, 7],
  ]) {
    it(`forward and backward match the reference (T=${T}, H=${H})`, async () => {
      const runner = await testRunner();
      const x = f32Round(randn(T * H, 1, 2));
      const w = f32Round(randn(H, 2, 0.5).map((v) => 1 + v));
      const dy = f32Round(randn(T * H, 3));
      const prev = f32Round(randn(T * H, 4));
      const [bx, bw, bdy, by, bdx, bres, bdx2] = await Promise.all([
        f32Buffer(x),
        f32Buffer(w),
        f32Buffer(dy),
        f32Buffer(new Float64Array(T * H)),
        f32Buffer(prev),
        f32Buffer(prev),
        f32Buffer(randn(T * H, 5)), // overwritten: dx = residual + ∂rmsnorm·dy
      ]);
      await runner.run((pass) => {
        rmsnormForward(runner, pass, bx, bw, by, T, H, 1e-6);
        rmsnormBackward(runner, pass, bx, bw, bdy, bdx, T, H, 1e-6, true);
        rmsnormBackward(runner, pass, bx, bw, bdy, bdx2, T, H, 1e-6, false, bres);
      });
      expect(relErr(await readF64(by, T * H), ref.rmsnorm(x, w, T, H, 1e-6))).toBeLessThan(2e-5);
      const want = ref.rmsnormBackward(x, w, dy, T, H, 1e-6).map((v, i) => v + prev[i]);
      expect(relErr(await readF64(bdx, T * H), want)).toBeLessThan(2e-5);
      expect(relErr(await readF64(bdx2, T * H), want)).toBeLessThan(2e-5); // the residual input, same tolerance
    });
  }
});
