// Every version of the decode matrix–vector kernel this adapter can run, against the
// float64 reference on the same bf16 weights: row lengths that give the shared-memory
// version 1, 2, 16 and 64 threads per row, row counts that are not multiples of the
// subgroup version's 8 rows per workgroup, whole and row-chunked weights, bias,
// accumulate, and reading a chosen row of a [T, in] activation.
// Tolerance 1e-5 relative: f32 sums of ≤ 4096 terms in a tree.
import { describe, expect, it } from 'vitest';
import * as ref from '../../src/gpu/reference/ops.ts';
import { GEMV_VERSIONS, gemvForward, threadsPerRow, type GemvArgs } from '../../src/gpu/kernels/gemv.ts';
import { bf16Weight, f32Buffer, gpuSkipReason, readF64, skipNote, testRunner } from '../helpers/gpu.ts';
import { f32Round, randn, relErr } from '../helpers/numeric.ts';

describe.skipIf(!!gpuSkipReason)(`GEMV kernel${skipNote}`, () => {
  for (const [inF, outF, chunkRows] of [
    [16, 37, 1000],
    [64, 130, 1000],
    [512, 20, 1000],
    [4096, 9, 1000],
    [64, 130, 7], // 19 chunks, the last one short
    [20, 11, 1000], // in not a multiple of 8: no 16-byte loads, only the shared-memory version
  ])
    for (const v of GEMV_VERSIONS)
      it(`${v.name}: in=${inF} (${threadsPerRow(inF / 2)} threads per row) out=${outF} chunk=${chunkRows} rows`, async (ctx) => {
        const runner = await testRunner();
        if (!runner.kernels.available(v)) ctx.skip();
        const T = 3;
        const x = f32Round(randn(T * inF, 1));
        const bias = f32Round(randn(outF, 2));
        const y0 = f32Round(randn(outF, 4));
        const { weight, rounded: W } = await bf16Weight(randn(outF * inF, 5, 0.3), outF, inF, chunkRows * inF * 2);
        const [bx, bb, by, byAcc] = await Promise.all([x, bias, new Float64Array(outF), y0].map(f32Buffer));
        const calls: GemvArgs[] = weight.chunks.flatMap((chunk) => [
          { x: bx, W: weight, chunk, bias: bb, y: by, accumulate: false, xRow: 2 },
          { x: bx, W: weight, chunk, y: byAcc, accumulate: true, xRow: 0 },
        ]);
        if (!calls.every((a) => v.supports(a))) {
          expect(inF % 8).not.toBe(0);
          ctx.skip();
        }
        await runner.run((pass) => {
          for (const a of calls) v.record(runner, pass, a);
        });
        const row = (t: number) => x.subarray(t * inF, (t + 1) * inF);
        expect(relErr(await readF64(by, outF), ref.linear(row(2), W, 1, inF, outF, bias))).toBeLessThan(1e-5);
        const acc = ref.linear(row(0), W, 1, inF, outF).map((v, i) => v + y0[i]);
        expect(relErr(await readF64(byAcc, outF), acc)).toBeLessThan(1e-5);
      });
  it('the decoder entry point runs the forced family (subgroup) and stays exact', async () => {
    const runner = await testRunner();
    runner.kernels.forced = 'subgroup';
    const [inF, outF] = [256, 21];
    const x = f32Round(randn(inF, 1));
    const { weight, rounded: W } = await bf16Weight(randn(outF * inF, 5, 0.3), outF, inF, 8 * inF * 2);
    const [bx, by] = await Promise.all([x, new Float64Array(outF)].map(f32Buffer));
    const before = runner.dispatches;
    await runner.run((pass) => gemvForward(runner, pass, bx, weight, undefined, by));
    expect(runner.dispatches - before).toBe(3); // one per chunk of 8 rows
    expect(relErr(await readF64(by, outF), ref.linear(x, W, 1, inF, outF))).toBeLessThan(1e-5);
  });
  it('gives short rows few threads and long rows a whole workgroup', () => {
    expect([8, 32, 448, 4480].map(threadsPerRow)).toEqual([1, 2, 32, 64]);
  });
});
