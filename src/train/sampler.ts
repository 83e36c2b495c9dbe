// The order sequences are trained in: epoch e is a seeded permutation of the usable
// training blocks, and optimizer step s (1-based) takes sequences (s−1)·B … s·B−1 of
// that endless sequence. The order is a function of (seed, step) only, so a resumed run
// sees exactly the data an uninterrupted one would.
import { Rng } from '../random.ts';
import { block, usableBlocks, type PackedTokens, type TrainingBlock } from '../data/dataset/pack.ts';

export class BlockSampler {
  private usable: number[];
  private perm?: { epoch: number; order: number[] };

  constructor(
    private data: PackedTokens,
    private seed: number,
  ) {
    this.usable = usableBlocks(data);
    if (!this.usable.length) throw new Error('no training block has a token to train on');
  }

  get blocksPerEpoch(): number {
    return this.usable.length;
  }

  /** Block index of the i-th sequence of the run (0-based). */
  blockAt(i: number): number {
    const n = this.usable.length;
    const epoch = Math.floor(i / n);
    if (this.perm?.epoch !== epoch) {
      const rng = new Rng((this.seed * 2654435761 + epoch * 40503 + 17) >>> 0);
      const order = [...this.usable];
      for (let k = order.length - 1; k > 0; k--) {
        const j = Math.floor(rng.next() * (k + 1));
        [order[k], order[j]] = [order[j], order[k]];
      }
      this.perm = { epoch, order };
    }
    return this.perm.order[i % n];
  }

  /** The micro-batches of optimizer step `step` (1-based). */
  batch(step: number, batchSize: number): TrainingBlock[] {
    const out: TrainingBlock[] = [];
    for (let k = 0; k < batchSize; k++) out.push(block(this.data, this.blockAt((step - 1) * batchSize + k)));
    return out;
  }
}
