// The LM head fused with cross-entropy, chunked by tokens, against the float64 reference:
// per-token losses, the masked mean and d(x) = ∂(gradScale · Σ losses)/∂x, computed in one
// pass (each chunk's logits once). Ragged T, several token chunks (the last one short),
// row-chunked weights, masked targets (a whole chunk of them too), and every linear family
// this adapter runs (register, tiled, and tiled-f16 where shader-f16 exists).
// Tolerances (max error ÷ max |reference|):
// - f32 families: 2e-5 (an f32 log-sum-exp over ≤ 300 logits of ≤ 64-term dot products);
// - tiled-f16: 4e-3, the linear test's f16 tolerance (x is rounded to f16 in the GEMMs;
//   the log-sum-exp, the softmax and the gradient scale stay f32).
import { describe, expect, it } from 'vitest';
import * as ref from '../../src/gpu/reference/ops.ts';
import { createLossScratch, lmHeadLoss, sumLosses } from '../../src/gpu/kernels/cross-entropy.ts';
import { headChunkTokens } from '../../src/gpu/buffers-plan.ts';
import { KernelRunner } from '../../src/gpu/kernel.ts';
import { LINEAR_DX_VERSIONS, LINEAR_VERSIONS } from '../../src/gpu/kernels/linear.ts';
import type { KernelFamily } from '../../src/gpu/kernel-versions.ts';
import { GpuMemory } from '../../src/gpu/memory.ts';
import { uploadBuffer } from '../../src/gpu/buffers.ts';
import { uploadModel } from '../../src/gpu/model.ts';
import { GpuLora, initHostAdapter } from '../../src/gpu/lora.ts';
import { Transformer } from '../../src/gpu/transformer.ts';
import { bf16Weight, f32Buffer, gpuSkipReason, readF64, skipNote, testDevice, testRunner } from '../helpers/gpu.ts';
import { f32Round, randn, relErr } from '../helpers/numeric.ts';
import { tinyConfig, tinyModel } from '../helpers/tiny.ts';

const FAMILIES: KernelFamily[] = ['register', 'tiled', 'tiled-f16'];

// [T, hidden, vocab, weight chunk rows, token chunk, micro-batches]: chunk from headChunkTokens at a budget of
// `chunk` rows of logits; gradScale = 1 / (counted tokens × micro-batches), as the trainer sets it.
const CASES: Array<[T: number, H: number, V: number, chunkRows: number, chunk: number, batches: number]> = [
  [9, 16, 37, 1000, 64, 1], // one chunk; vocab not a multiple of 4 (tiled dx falls back to register)
  [37, 32, 300, 1000, 16, 1], // three chunks of tokens, the last 5 long
  [70, 64, 200, 48, 16, 1], // five chunks (the last 6 long), the head in 5 row chunks (the last 8 rows)
  // A tiny gradient scale (many accumulated micro-batches): gradScale·softmax would underflow f16's range.
  [20, 32, 2000, 1000, 16, 1 << 16],
];

describe.skipIf(!!gpuSkipReason)(`lm head + cross-entropy, chunked by tokens${skipNote}`, () => {
  for (const family of FAMILIES)
    for (const [T, H, V, chunkRows, budgetRows, batches] of CASES) {
      it(`${family}: T=${T} hidden=${H} vocab=${V} weight chunks of ${chunkRows} rows, ${budgetRows}-token budget, ${batches} micro-batches`, async (ctx) => {
        const { device } = await testDevice();
        const runner = new KernelRunner(device);
        if (![...LINEAR_VERSIONS, ...LINEAR_DX_VERSIONS].some((v) => v.family === family && runner.kernels.available(v))) ctx.skip();
        runner.kernels.forced = family;
        const chunk = headChunkTokens(T, V, H, budgetRows * V * 4);
        const chunks = Math.ceil(T / chunk);
        const x = f32Round(randn(T * H, 1));
        const { weight, rounded: W } = await bf16Weight(randn(V * H, 2, 0.5), V, H, chunkRows * H * 2);
        // Masked positions scattered, and the whole second chunk masked where there is one.
        const targets = Array.from({ length: T }, (_, t) =>
          t % 7 === 2 || (chunks > 2 && t >= chunk && t < 2 * chunk) ? -1 : [3, V - 1, 0, 17 % V, 5][t % 5],
        );
        const btg = uploadBuffer(device, Int32Array.from(targets));
        const memory = new GpuMemory(device);
        const scratch = createLossScratch(memory, T, V, H, chunk);
        const [bx, blosses, bmean, bdx, blossOnly] = await Promise.all(
          [x, new Float64Array(T), new Float64Array(1), new Float64Array(T * H), new Float64Array(T)].map(f32Buffer),
        );
        const want = ref.crossEntropyLmHead(x, W, targets, T, H, V);
        const gradScale = 1 / (want.count * batches);
        const d0 = runner.dispatches;
        await runner.run((pass) => {
          lmHeadLoss(runner, pass, { x: bx, W: weight, targets: btg, losses: blosses, T, scratch, grad: { scale: gradScale, dx: bdx } });
          sumLosses(runner, pass, blosses, btg, bmean, T);
        });
        // Per chunk of tokens: the logits GEMM and the input-gradient GEMM once per weight chunk, one loss dispatch;
        // then d(x)'s scale and the mean.
        expect(runner.dispatches - d0).toBe(chunks * (2 * weight.chunks.length + 1) + 2);
        const d1 = runner.dispatches;
        await runner.run((pass) => lmHeadLoss(runner, pass, { x: bx, W: weight, targets: btg, losses: blossOnly, T, scratch }));
        expect(runner.dispatches - d1).toBe(chunks * (weight.chunks.length + 1)); // loss only: no gradient GEMM
        const used = [...runner.kernels.used.keys()];
        if (family !== 'register') expect(used).toContain(`linear.${family}`);

        const tol = family === 'tiled-f16' ? 4e-3 : 2e-5;
        const eLoss = relErr(await readF64(blosses, T), want.losses);
        const eMean = Math.abs((await readF64(bmean, 1))[0] - want.loss) / want.loss;
        const eDx = relErr(await readF64(bdx, T * H), ref.crossEntropyLmHeadBackward(x, W, targets, T, H, V, gradScale));
        console.log(
          `[gpu tests] lm head ${family} T=${T} V=${V}, ${chunks} chunks of ${chunk} tokens, versions ${used.join(', ')}: ` +
            `losses ${eLoss.toExponential(2)}, mean ${eMean.toExponential(2)}, dx ${eDx.toExponential(2)} (tolerance ${tol})`,
        );
        expect(chunks).toBe(budgetRows >= T ? 1 : Math.ceil(T / budgetRows));
        expect(eLoss).toBeLessThan(tol);
        expect(eMean).toBeLessThan(tol);
        expect(eDx).toBeLessThan(tol);
        // Masked tokens: zero gradient; loss-only mode gives the same losses.
        const dx = await readF64(bdx, T * H);
        for (let t = 0; t < T; t++) if (targets[t] < 0) expect(dx.slice(t * H, (t + 1) * H).every((v) => v === 0)).toBe(true);
        expect(await readF64(blossOnly, T)).toEqual(await readF64(blosses, T));
        memory.destroyAll();
      });
    }

  it('the Transformer refuses a backward whose forward computed no head gradient (loss-only forward)', async () => {
    const { device } = await testDevice();
    const runner = await testRunner();
    const config = tinyConfig('llama', { numLayers: 1 });
    const { tensors } = tinyModel(config, 3);
    const memory = new GpuMemory(device);
    const model = await uploadModel(memory, config, async (n) => tensors.get(n)!);
    const lora = { r: 2, alpha: 4, dropout: 0, targets: ['q_proj' as const] };
    const adapter = new GpuLora(memory, lora, initHostAdapter(config, lora, 1), { trainable: true });
    const tf = new Transformer(runner, memory, model, adapter, { seqLen: 8 });
    tf.setBatch([1, 2, 3, 4]);
    await expect(
      runner.run((pass) => {
        tf.recordForward(pass);
        tf.recordBackward(pass);
      }),
    ).rejects.toThrow(/recordForward\(pass, \{ gradScale \}\)/);
    memory.destroyAll();
  });
});
