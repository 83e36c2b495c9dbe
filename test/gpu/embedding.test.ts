// Embedding gather from a chunked bf16 table: exact (a copy of bf16 values into f32).
import { describe, expect, it } from 'vitest';
import * as ref from '../../src/gpu/reference/ops.ts';
import { embeddingForward } from '../../src/gpu/kernels/embedding.ts';
import { uploadBuffer } from '../../src/gpu/buffers.ts';
import { bf16Weight, f32Buffer, gpuSkipReason, readF64, skipNote, testDevice, testRunner } from '../helpers/gpu.ts';
import { randn } from '../helpers/numeric.ts';

describe.skipIf(!!gpuSkipReason)(`embedding kernel${skipNote}`, () => {
  for (const chunkRows of [100, 7]) {
    it(`gathers rows exactly (chunks of ${chunkRows} rows)`, async () => {
      const runner = await testRunner();
      const { device } = await testDevice();
      const [V, H] = [50, 12];
      const { weight, rounded } = await bf16Weight(randn(V * H, 1), V, H, chunkRows * H * 2);
      const ids = [0, 49, 7, 7, 13, 48, 21];
      const bids = uploadBuffer(device, Uint32Array.from(ids));
      const out = await f32Buffer(new Float64Array(ids.length * H));
      await runner.run((pass) => embeddingForward(runner, pass, bids, weight, out, ids.length));
      expect(Array.from(await readF64(out, ids.length * H))).toEqual(Array.from(ref.embedding(ids, rounded, H)));
    });
  }
});
