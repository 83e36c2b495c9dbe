// Test loss: the token-weighted mean loss over packed blocks, forward only (no dropout).
import type { Transformer } from '../gpu/transformer.ts';
import type { KernelRunner } from '../gpu/kernel.ts';
import { readFloat32 } from '../gpu/buffers.ts';
import { block, usableBlocks, type PackedTokens } from '../data/dataset/pack.ts';

export async function packedLoss(
  tf: Transformer,
  runner: KernelRunner,
  data: PackedTokens,
  opts: { signal?: AbortSignal; maxBlocks?: number; onBlock?: (done: number, total: number, ms: number) => void } = {},
): Promise<number> {
  tf.opts.dropoutSeed = undefined; // evaluation sees the adapter without dropout
  let sum = 0;
  let count = 0;
  const blocks = usableBlocks(data).slice(0, opts.maxBlocks ?? Infinity);
  for (const [k, i] of blocks.entries()) {
    opts.signal?.throwIfAborted();
    const t0 = performance.now();
    const b = block(data, i);
    tf.setBatch(b.ids, b.targets);
    await runner.run((pass) => tf.recordForward(pass));
    const [loss] = await readFloat32(runner.device, tf.loss, 1);
    sum += loss * b.counted;
    count += b.counted;
    opts.onBlock?.(k + 1, blocks.length, performance.now() - t0);
  }
  return count ? sum / count : NaN;
}
