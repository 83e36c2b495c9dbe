// Every version of cached attention (decode and prefill chunks against the KV cache) that
// this adapter can run, against the float64 reference (reference/ops.ts attention over the
// whole prefix; the chunk's queries are its last rows): cache lengths 1, a few, not
// multiples of any subgroup size (4–128) and longer than a workgroup, GQA ratios 1–7, head
// sizes 64 and 128, chunks of 1 and several queries, f32 and f16 caches.
// Tolerances: 1e-5 relative to the largest output (f32 math; an f16 cache's elements are
// widened exactly, so against the reference on the same f16-rounded K and V it is f32 math
// too); and an f16 cache against the unrounded K and V within 8·2⁻¹¹ ≈ 3.9e-3, f16's rounding
// unit (each K and V element moves by ≤ 2⁻¹¹ of itself) with room for the scores' sums.
// Measured on lavapipe: worst 8.6e-7 (shared), 3.3e-7 (subgroup).
import { afterAll, describe, expect, it } from 'vitest';
import * as ref from '../../src/gpu/reference/ops.ts';
import { floatToF16, f16ToFloat } from '../../src/model/dtype.ts';
import { uploadBuffer } from '../../src/gpu/buffers.ts';
import { ATTENTION_CACHED_VERSIONS, attentionCached, type AttentionCachedArgs } from '../../src/gpu/kernels/attention-cached.ts';
import { f32Buffer, gpuSkipReason, readF64, skipNote, testDevice, testRunner } from '../helpers/gpu.ts';
import { f32Round, randn, relErr } from '../helpers/numeric.ts';

const F16_UNROUNDED_TOL = 8 * 2 ** -11;

/** The reference outputs of queries pos0..pos0+T-1 over keys 0..pos0+t. */
function reference(q: Float64Array, k: Float64Array, v: Float64Array, T: number, pos0: number, nHeads: number, nKv: number, hd: number) {
  const n = pos0 + T;
  const qFull = new Float64Array(n * nHeads * hd);
  qFull.set(q, pos0 * nHeads * hd);
  return ref.attention(qFull, k.subarray(0, n * nKv * hd), v.subarray(0, n * nKv * hd), n, nHeads, nKv, hd).subarray(pos0 * nHeads * hd);
}

describe.skipIf(!!gpuSkipReason)(`cached attention${skipNote}`, () => {
  const worst = new Map<string, number>();
  afterAll(() => {
    for (const [name, e] of worst) console.log(`[gpu tests] ${name}: worst relative error ${e.toExponential(2)}`);
  });
  // [nHeads, nKv, head size, queries T, pos0]
  const shapes: Array<[number, number, number, number, number]> = [
    [2, 2, 64, 1, 0], // cache length 1, ratio 1
    [4, 2, 64, 1, 4], // length 5, ratio 2
    [6, 2, 128, 1, 36], // length 37, ratio 3
    [4, 1, 64, 1, 32], // length 33, ratio 4
    [5, 1, 128, 3, 10], // a chunk of 3 queries, ratio 5
    [12, 2, 64, 1, 129], // length 130 (past a 64-thread workgroup), ratio 6
    [14, 2, 64, 2, 68], // Qwen2.5-0.5B's heads, ratio 7, a chunk of 2
  ];
  for (const [nHeads, nKv, hd, T, pos0] of shapes)
    for (const kvType of ['f32', 'f16'] as const)
      for (const v of ATTENTION_CACHED_VERSIONS)
        it(`${v.name}: ${nHeads}/${nKv} heads, d=${hd}, ${T} queries at ${pos0}, ${kvType} cache`, async (ctx) => {
          const runner = await testRunner();
          const { device } = await testDevice();
          if (!runner.kernels.available(v)) ctx.skip();
          if (kvType === 'f16' && !device.features.has('shader-f16')) ctx.skip(); // the decoder has no f16 cache there
          const positions = pos0 + T + 3; // the cache has room past the keys written so far
          const row = nKv * hd;
          const q = f32Round(randn(T * nHeads * hd, 1));
          const k = f32Round(randn(positions * row, 2));
          const vv = f32Round(randn(positions * row, 3));
          const [kc, vc, kUsed, vUsed] =
            kvType === 'f32'
              ? [await f32Buffer(k), await f32Buffer(vv), k, vv]
              : (() => {
                  const kb = Uint16Array.from(k, floatToF16);
                  const vb = Uint16Array.from(vv, floatToF16);
                  return [
                    uploadBuffer(device, new Uint32Array(kb.buffer)), // two halves per word (head sizes are even)
                    uploadBuffer(device, new Uint32Array(vb.buffer)),
                    Float64Array.from(kb, f16ToFloat),
                    Float64Array.from(vb, f16ToFloat),
                  ] as const;
                })();
          const [bq, bout] = await Promise.all([q, new Float64Array(T * nHeads * hd)].map(f32Buffer));
          const a: AttentionCachedArgs = { q: bq, kCache: kc, vCache: vc, out: bout, T, pos0, nHeads, nKv, headDim: hd, kvType };
          expect(v.supports(a)).toBe(true);
          await runner.run((pass) => v.record(runner, pass, a));
          const got = await readF64(bout, T * nHeads * hd);
          const err = relErr(got, reference(q, kUsed, vUsed, T, pos0, nHeads, nKv, hd));
          worst.set(v.name, Math.max(worst.get(v.name) ?? 0, err));
          expect(err).toBeLessThan(1e-5);
          if (kvType === 'f16') expect(relErr(got, reference(q, k, vv, T, pos0, nHeads, nKv, hd))).toBeLessThan(F16_UNROUNDED_TOL);
        });

  it('the decoder entry point runs the forced family (subgroup) and stays exact', async (ctx) => {
    const runner = await testRunner();
    const { device } = await testDevice();
    if (!device.features.has('subgroups')) ctx.skip();
    runner.kernels.forced = 'subgroup';
    const [nHeads, nKv, hd, pos0] = [14, 2, 64, 40];
    const q = f32Round(randn(nHeads * hd, 4));
    const k = f32Round(randn((pos0 + 1) * nKv * hd, 5));
    const vv = f32Round(randn((pos0 + 1) * nKv * hd, 6));
    const [bq, bk, bv, bout] = await Promise.all([q, k, vv, new Float64Array(nHeads * hd)].map(f32Buffer));
    await runner.run((pass) => attentionCached(runner, pass, bq, bk, bv, bout, 1, pos0, nHeads, nKv, hd, 'f32'));
    expect(runner.kernels.used.get('attention-cached.subgroup')).toBe(1);
    expect(relErr(await readF64(bout, nHeads * hd), reference(q, k, vv, 1, pos0, nHeads, nKv, hd))).toBeLessThan(1e-5);
  });
});
