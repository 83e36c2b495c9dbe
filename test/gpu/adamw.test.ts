// Global gradient norm and AdamW (with in-shader clipping) against the float64 reference
// over three steps. Tolerance 1e-5 relative (f32 update arithmetic).
import { describe, expect, it } from 'vitest';
import * as ref from '../../src/gpu/reference/ops.ts';
import { adamwStep, gradNorm } from '../../src/gpu/kernels/adamw.ts';
import { f32Buffer, gpuSkipReason, readF64, skipNote, testRunner } from '../helpers/gpu.ts';
import { f32Round, randn, relErr } from '../helpers/numeric.ts';

describe.skipIf(!!gpuSkipReason)(`adamw kernel${skipNote}`, () => {
  for (const maxNorm of [0, 1.5]) {
    it(`three steps match PyTorch-style AdamW (clip ${maxNorm || 'off'})`, async () => {
      const runner = await testRunner();
      const sizes = [300, 7];
      const params = sizes.map((n, i) => f32Round(randn(n, 10 + i)));
      const grads = sizes.map((n, i) => f32Round(randn(n, 20 + i, 0.5)));
      const m = sizes.map((n) => new Float64Array(n));
      const v = sizes.map((n) => new Float64Array(n));
      const bp = await Promise.all(params.map(f32Buffer));
      const bg = await Promise.all(grads.map(f32Buffer));
      const bm = await Promise.all(m.map(f32Buffer));
      const bv = await Promise.all(v.map(f32Buffer));
      const [partials, norm] = await Promise.all([f32Buffer(new Float64Array(2)), f32Buffer(new Float64Array(1))]);
      const o = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };
      for (let step = 1; step <= 3; step++) {
        await runner.run((pass) => {
          gradNorm(
            runner,
            pass,
            bg.map((buffer, i) => ({ buffer, n: sizes[i] })),
            partials,
            norm,
          );
          for (const [i, n] of sizes.entries()) adamwStep(runner, pass, bp[i], bg[i], bm[i], bv[i], norm, n, { ...o, step, maxNorm });
        });
        const total = ref.globalGradNorm(grads);
        expect(Math.abs((await readF64(norm, 1))[0] - total) / total).toBeLessThan(1e-6);
        const c = ref.clipScale(total, maxNorm);
        for (let i = 0; i < sizes.length; i++) {
          ref.adamw(
            params[i],
            grads[i].map((g) => g * c),
            m[i],
            v[i],
            step,
            o,
          );
        }
      }
      for (let i = 0; i < sizes.length; i++) expect(relErr(await readF64(bp[i], sizes[i]), params[i])).toBeLessThan(1e-5);
    });
  }
});
