// Causal GQA attention forward/backward against the float64 reference (MHA and GQA,
// several head sizes). Tolerance 2e-5 relative: f32 online softmax over ≤ 40 keys.
import { describe, expect, it } from 'vitest';
import * as ref from '../../src/gpu/reference/ops.ts';
import { attentionBackward, attentionForward } from '../../src/gpu/kernels/attention.ts';
import { f32Buffer, gpuSkipReason, readF64, skipNote, testRunner } from '../helpers/gpu.ts';
import { f32Round, randn, relErr } from '../helpers/numeric.ts';

describe.skipIf(!!gpuSkipReason)(`attention kernel${skipNote}`, () => {
  for (const [T, nH, nKv, hd] of [
    [7, 2, 2, 4],
    [40, 4, 2, 8],
    [70, 6, 1, 16], // more rows than one workgroup, one kv head for six query heads
  ]) {
    it(`T=${T} heads=${nH} kv=${nKv} d=${hd}`, async () => {
      const runner = await testRunner();
      const q = f32Round(randn(T * nH * hd, 1));
      const k = f32Round(randn(T * nKv * hd, 2));
      const v = f32Round(randn(T * nKv * hd, 3));
      const dout = f32Round(randn(T * nH * hd, 4));
      const z = (n: number) => new Float64Array(n);
      const b = await Promise.all(
        [q, k, v, dout, z(T * nH * hd), z(nH * T), z(T * nH * hd), z(T * nKv * hd), z(T * nKv * hd), z(nH * T)].map(f32Buffer),
      );
      const [bq, bk, bv, bdo, bout, blse, bdq, bdk, bdv, bdelta] = b;
      await runner.run((pass) => {
        attentionForward(runner, pass, bq, bk, bv, bout, blse, T, nH, nKv, hd);
        attentionBackward(runner, pass, bq, bk, bv, bout, blse, bdo, bdq, bdk, bdv, bdelta, T, nH, nKv, hd);
      });
      expect(relErr(await readF64(bout, T * nH * hd), ref.attention(q, k, v, T, nH, nKv, hd))).toBeLessThan(2e-5);
      const g = ref.attentionBackward(q, k, v, dout, T, nH, nKv, hd);
      expect(relErr(await readF64(bdq, q.length), g.dq)).toBeLessThan(2e-5);
      expect(relErr(await readF64(bdk, k.length), g.dk)).toBeLessThan(2e-5);
      expect(relErr(await readF64(bdv, v.length), g.dv)).toBeLessThan(2e-5);
    });
  }
});
