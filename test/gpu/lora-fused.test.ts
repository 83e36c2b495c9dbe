// Grouped LoRA (one dispatch per product for the targets that share an input) with LoRA's
// big-dimension products in the linear GEMM's epilogue, for every version of the linear
// forward and input gradient, against the float64 reference: y = x·Wᵀ + b + s·drop(x)·Aᵀ·Bᵀ
// (+ a residual input), dx = Σ dy·W + s·(dy·B·A)∘mask, dA and dB accumulating. Groups of
// 1–3 targets with different output widths, ragged T / K / N, row-chunked weights (so B's
// rows start mid-matrix), r odd and even, dropout on and off (per-target seeds).
// Tolerances (max error ÷ max |reference|): y and dx 1e-5 for the f32 versions and 4e-3 for
// tiled-f16 (its base GEMM rounds inputs to f16, as in linear.test.ts; the LoRA terms are
// f32 in every version); dA and dB (f32 in every version) 1e-5.
import { describe, expect, it } from 'vitest';
import * as ref from '../../src/gpu/reference/ops.ts';
import { LINEAR_DX_VERSIONS, LINEAR_VERSIONS, type LinearArgs, type LinearDxArgs } from '../../src/gpu/kernels/linear.ts';
import {
  dropoutMask,
  loraDAGroup,
  loraDBGroup,
  loraGradGroup,
  loraProjectGroup,
  type Dropout,
  type LoraMember,
} from '../../src/gpu/kernels/lora.ts';
import type { KernelVersion } from '../../src/gpu/kernel-versions.ts';
import { bf16Weight, f32Buffer, gpuSkipReason, readF64, skipNote, testRunner } from '../helpers/gpu.ts';
import { f32Round, randn, relErr } from '../helpers/numeric.ts';

const tolerance = (v: KernelVersion<unknown>) => (v.features.includes('shader-f16') ? 4e-3 : 1e-5);

const CASES: Array<{ T: number; inF: number; outs: number[]; r: number; chunkRows: number }> = [
  { T: 37, inF: 40, outs: [24, 8, 16], r: 4, chunkRows: 16 }, // q/k/v-like: three targets, chunked
  { T: 70, inF: 72, outs: [132], r: 3, chunkRows: 1000 }, // one target (o, down), ragged tiles, odd r
  { T: 9, inF: 18, outs: [13, 7], r: 2, chunkRows: 3 }, // gate/up-like; K % 8 ≠ 0: only register versions
  { T: 66, inF: 48, outs: [136, 72], r: 5, chunkRows: 1000 }, // a pair over 3 output tiles of 64 each
];

const SCALE = 2;

describe.skipIf(!!gpuSkipReason)(`grouped LoRA in the linear epilogues${skipNote}`, () => {
  for (const { T, inF, outs, r, chunkRows } of CASES) {
    for (const p of [0, 0.25]) {
      const G = outs.length;
      const dropouts: Array<Dropout | undefined> = outs.map((_, i) => (p > 0 ? { p, seed: 1000 + 31 * i } : undefined));
      const masks = dropouts.map((d) => (d ? dropoutMask(d.seed, T, inF, d.p) : undefined));
      const x = f32Round(randn(T * inF, 1));
      const A = outs.map((_, i) => f32Round(randn(r * inF, 10 + i, 0.3)));
      const B = outs.map((o, i) => f32Round(randn(o * r, 20 + i, 0.3)));
      const bias = outs.map((o, i) => f32Round(randn(o, 30 + i)));
      const res = outs.map((o, i) => f32Round(randn(T * o, 40 + i)));
      const dy = outs.map((o, i) => f32Round(randn(T * o, 50 + i)));
      const dA0 = outs.map((_, i) => f32Round(randn(r * inF, 60 + i)));
      const dB0 = outs.map((o, i) => f32Round(randn(o * r, 70 + i)));
      const shape = `T=${T} in=${inF} outs=${outs.join('/')} r=${r} chunk=${chunkRows} rows, dropout ${p}`;

      async function setup() {
        const runner = await testRunner();
        const W = await Promise.all(outs.map((o, i) => bf16Weight(randn(o * inF, 80 + i, 0.3), o, inF, chunkRows * inF * 2)));
        const members: LoraMember[] = await Promise.all(
          outs.map(async (outF, i) => ({
            A: await f32Buffer(A[i]),
            B: await f32Buffer(B[i]),
            dA: await f32Buffer(dA0[i]),
            dB: await f32Buffer(dB0[i]),
            outF,
            dropout: dropouts[i],
          })),
        );
        const bx = await f32Buffer(x);
        const xa = await f32Buffer(new Float64Array(T * G * r));
        return { runner, W, members, bx, xa };
      }

      for (const v of LINEAR_VERSIONS) {
        it(`${v.name} forward: ${shape}`, async (ctx) => {
          const { runner, W, members, bx, xa } = await setup();
          if (!runner.kernels.available(v)) ctx.skip();
          const ys = await Promise.all(outs.map((o) => f32Buffer(new Float64Array(T * o))));
          const [bres, bbias] = await Promise.all([f32Buffer(res[0]), f32Buffer(bias[1 % G])]);
          // Target 0 adds a residual, target 1 (or 0 when alone) a bias: both epilogue inputs at once when G = 1.
          const calls: LinearArgs[] = outs.flatMap((o, i) =>
            W[i].weight.chunks.map((c) => ({
              x: bx,
              W: W[i].weight,
              band: { buffer: c.buffer, bufferRow: 0, rows: c.rows },
              bias: i === 1 % G ? { buffer: bbias, offset: c.rowStart } : undefined,
              y: ys[i],
              yStride: o,
              yCol0: c.rowStart,
              T,
              accumulate: false,
              lora: { xa, stride: G * r, col0: i * r, B: members[i].B, row0: c.rowStart, r, scale: SCALE },
              residual: i === 0 ? bres : undefined,
            })),
          );
          if (!calls.every((a) => v.supports(a))) {
            expect(inF % 8).not.toBe(0);
            ctx.skip();
          }
          await runner.run((pass) => {
            loraProjectGroup(runner, pass, bx, members, xa, T, inF, r);
            for (const a of calls) v.record(runner, pass, a);
          });
          for (let i = 0; i < G; i++) {
            const base = ref.linear(x, W[i].rounded, T, inF, outs[i], i === 1 % G ? bias[i] : undefined);
            const lora = ref.lora(x, A[i], B[i], T, inF, outs[i], r, SCALE, masks[i]);
            const want = base.map((b, k) => b + lora[k] + (i === 0 ? res[0][k] : 0));
            const e = relErr(await readF64(ys[i], T * outs[i]), want);
            console.log(`[gpu tests] ${v.name} + LoRA target ${i}, ${shape}: error ${e.toExponential(2)} (tolerance ${tolerance(v)})`);
            expect(e).toBeLessThan(tolerance(v));
          }
        });
      }

      // gate and up as one GEMM dispatch: two weights of the same shape (here targets 0 and 1 of
      // a group, both cut to the first one's rows), picked by output tile.
      for (const v of G >= 2 ? LINEAR_VERSIONS : []) {
        it(`${v.name} paired forward: ${shape}`, async (ctx) => {
          const { runner, members, bx, xa } = await setup();
          if (!runner.kernels.available(v)) ctx.skip();
          const rows = outs[0];
          const Ws = await Promise.all([0, 1].map((i) => bf16Weight(randn(rows * inF, 90 + i, 0.3), rows, inF, chunkRows * inF * 2)));
          // target 1's B cut (or padded by its own rows) to `rows`: a fresh B of that shape
          const B1 = f32Round(randn(rows * r, 95, 0.3));
          const bB1 = await f32Buffer(B1);
          const ys = await Promise.all([0, 1].map(() => f32Buffer(new Float64Array(T * rows))));
          const calls: LinearArgs[] = Ws[0].weight.chunks.map((c, ci) => {
            const c2 = Ws[1].weight.chunks[ci];
            return {
              x: bx,
              W: Ws[0].weight,
              band: { buffer: c.buffer, bufferRow: 0, rows: c.rows },
              y: ys[0],
              yStride: rows,
              yCol0: c.rowStart,
              T,
              accumulate: false,
              lora: { xa, stride: G * r, col0: 0, B: members[0].B, row0: c.rowStart, r, scale: SCALE },
              pair: {
                band: { buffer: c2.buffer, bufferRow: 0, rows: c2.rows },
                y: ys[1],
                lora: { xa, stride: G * r, col0: r, B: bB1, row0: c2.rowStart, r, scale: SCALE },
              },
            };
          });
          if (!calls.every((a) => v.supports(a))) {
            expect(inF % 8).not.toBe(0);
            ctx.skip();
          }
          await runner.run((pass) => {
            loraProjectGroup(runner, pass, bx, members, xa, T, inF, r);
            for (const a of calls) v.record(runner, pass, a);
          });
          for (let i = 0; i < 2; i++) {
            const base = ref.linear(x, Ws[i].rounded, T, inF, rows);
            const lora = ref.lora(x, A[i], i === 0 ? B[0] : B1, T, inF, rows, r, SCALE, masks[i]);
            const e = relErr(
              await readF64(ys[i], T * rows),
              base.map((b, k) => b + lora[k]),
            );
            console.log(`[gpu tests] ${v.name} paired, weight ${i}, ${shape}: error ${e.toExponential(2)} (tolerance ${tolerance(v)})`);
            expect(e).toBeLessThan(tolerance(v));
          }
        });
      }

      for (const v of LINEAR_DX_VERSIONS) {
        it(`${v.name} backward: ${shape}`, async (ctx) => {
          const { runner, W, members, bx, xa } = await setup();
          if (!runner.kernels.available(v)) ctx.skip();
          const bdys = await Promise.all(dy.map(f32Buffer));
          const g = await f32Buffer(new Float64Array(T * G * r));
          const bdx = await f32Buffer(new Float64Array(T * inF));
          const calls: LinearDxArgs[] = outs.flatMap((o, i) =>
            W[i].weight.chunks.map((c, ci) => ({
              dy: bdys[i],
              dyStride: o,
              dyCol0: c.rowStart,
              W: W[i].weight,
              band: { buffer: c.buffer, bufferRow: 0, rows: c.rows },
              dx: bdx,
              T,
              accumulate: i > 0 || ci > 0,
              lora:
                ci === 0
                  ? { g, stride: G * r, col0: i * r, A: members[i].A, width: inF, r, scale: SCALE, dropout: dropouts[i] }
                  : undefined,
            })),
          );
          if (!calls.every((a) => v.supports(a))) {
            expect(inF % 8 !== 0 || calls.some((a) => a.band.rows % 4 !== 0 || a.dyStride % 4 !== 0)).toBe(true);
            ctx.skip();
          }
          await runner.run((pass) => {
            loraProjectGroup(runner, pass, bx, members, xa, T, inF, r);
            loraGradGroup(runner, pass, members, bdys, g, T, r);
            for (const a of calls) v.record(runner, pass, a);
            loraDBGroup(runner, pass, members, bdys, xa, T, r, SCALE);
            loraDAGroup(runner, pass, members, g, bx, T, inF, r, SCALE);
          });
          const dx = new Float64Array(T * inF);
          for (let i = 0; i < G; i++) {
            const base = ref.linearBackward(dy[i], W[i].rounded, T, inF, outs[i]);
            const want = ref.loraBackward(x, A[i], B[i], dy[i], T, inF, outs[i], r, SCALE, masks[i]);
            for (let k = 0; k < dx.length; k++) dx[k] += base[k] + want.dx[k];
            const eA = relErr(
              await readF64(members[i].dA, r * inF),
              want.dA.map((d, k) => d + dA0[i][k]),
            );
            const eB = relErr(
              await readF64(members[i].dB, outs[i] * r),
              want.dB.map((d, k) => d + dB0[i][k]),
            );
            expect(eA).toBeLessThan(1e-5);
            expect(eB).toBeLessThan(1e-5);
          }
          const e = relErr(await readF64(bdx, T * inF), dx);
          console.log(
            `[gpu tests] ${v.name} + grouped LoRA backward, ${shape}: dx error ${e.toExponential(2)} (tolerance ${tolerance(v)})`,
          );
          expect(e).toBeLessThan(tolerance(v));
        });
      }
    }
  }
});
