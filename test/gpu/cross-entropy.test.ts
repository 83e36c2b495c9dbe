// The fused, vocabulary-tiled LM head + cross-entropy against the float64 reference:
// per-token losses, the masked mean, and dx; vocab not a multiple of the tile, masked
// targets, and a chunked weight. Tolerance 2e-5 relative (f32 log-sum-exp over ≤ 300 logits).
import { describe, expect, it } from 'vitest';
import * as ref from '../../src/gpu/reference/ops.ts';
import { createLossScratch, lmHeadLossBackward, lmHeadLossForward, sumLosses } from '../../src/gpu/kernels/cross-entropy.ts';
import { GpuMemory } from '../../src/gpu/memory.ts';
import { uploadBuffer } from '../../src/gpu/buffers.ts';
import { bf16Weight, f32Buffer, gpuSkipReason, readF64, skipNote, testDevice, testRunner } from '../helpers/gpu.ts';
import { f32Round, randn, relErr } from '../helpers/numeric.ts';

describe.skipIf(!!gpuSkipReason)(`lm head + cross-entropy kernel${skipNote}`, () => {
  for (const [V, tile, chunkRows] of [
    [37, 1024, 1000],
    [300, 64, 1000], // several tiles, the last one short
    [300, 64, 70], // chunks that do not line up with tiles
  ]) {
    it(`V=${V} tile=${tile} chunk=${chunkRows}`, async () => {
      const runner = await testRunner();
      const { device } = await testDevice();
      const [T, H] = [9, 16];
      const x = f32Round(randn(T * H, 1));
      const { weight, rounded: W } = await bf16Weight(randn(V * H, 2, 0.5), V, H, chunkRows * H * 2);
      const targets = [3, V - 1, -1, 0, 17 % V, -1, 5, V - 2, 1];
      const btg = uploadBuffer(device, Int32Array.from(targets));
      const memory = new GpuMemory(device);
      const scratch = createLossScratch(memory, T, tile);
      const [bx, blosses, bmean, bdx] = await Promise.all(
        [x, new Float64Array(T), new Float64Array(1), new Float64Array(T * H)].map(f32Buffer),
      );
      const want = ref.crossEntropyLmHead(x, W, targets, T, H, V);
      await runner.run((pass) => {
        lmHeadLossForward(runner, pass, bx, weight, btg, blosses, T, scratch);
        sumLosses(runner, pass, blosses, btg, bmean, T);
        lmHeadLossBackward(runner, pass, bx, weight, btg, scratch, 1 / want.count, bdx, T);
      });
      expect(relErr(await readF64(blosses, T), want.losses)).toBeLessThan(2e-5);
      expect(Math.abs((await readF64(bmean, 1))[0] - want.loss) / want.loss).toBeLessThan(2e-5);
      expect(relErr(await readF64(bdx, T * H), ref.crossEntropyLmHeadBackward(x, W, targets, T, H, V, 1 / want.count))).toBeLessThan(2e-5);
      memory.destroyAll();
    });
  }
});
