// Packing (HF ConstantLengthDataset, without dropping the remainder): documents'
// tokens are concatenated into one stream and cut into blocks of seqLen tokens, with a
// per-token flag saying whether that token is a training target.
import type { Segment } from './fim.ts';

/** A token stream cut into blocks: block i is [i·seqLen, min((i+1)·seqLen, length)). */
export interface PackedTokens {
  seqLen: number;
  ids: Uint32Array;
  /** 1 where the token is trained on (predicted from the tokens before it), 0 for sentinels. */
  mask: Uint8Array;
}

export class TokenStream {
  private ids: number[] = [];
  private mask: number[] = [];

  push(segments: Segment[]): void {
    for (const s of segments)
      for (const id of s.ids) {
        this.ids.push(id);
        this.mask.push(s.train ? 1 : 0);
      }
  }

  get length(): number {
    return this.ids.length;
  }

  pack(seqLen: number): PackedTokens {
    if (!Number.isInteger(seqLen) || seqLen < 2) throw new RangeError(`seq_len must be an integer ≥ 2, got ${seqLen}`);
    return { seqLen, ids: Uint32Array.from(this.ids), mask: Uint8Array.from(this.mask) };
  }
}

export function blockCount(p: PackedTokens): number {
  return Math.ceil(p.ids.length / p.seqLen);
}

export function blockRange(p: PackedTokens, i: number): [number, number] {
  return [i * p.seqLen, Math.min((i + 1) * p.seqLen, p.ids.length)];
}

export interface TrainingBlock {
  ids: Uint32Array;
  /** targets[t] = the id to predict at t (ids[t+1] if it is trained on), −1 otherwise. */
  targets: Int32Array;
  /** Positions that count towards the loss. */
  counted: number;
}

export function block(p: PackedTokens, i: number): TrainingBlock {
  const [a, b] = blockRange(p, i);
  const ids = p.ids.subarray(a, b);
  const targets = new Int32Array(b - a).fill(-1);
  let counted = 0;
  for (let t = 0; t + 1 < ids.length; t++)
    if (p.mask[a + t + 1]) {
      targets[t] = ids[t + 1];
      counted++;
    }
  return { ids, targets, counted };
}

/** Blocks with at least one target (a 1-token remainder, or all sentinels, trains nothing). */
export function usableBlocks(p: PackedTokens): number[] {
  const out: number[] = [];
  for (let i = 0; i < blockCount(p); i++) {
    const [a, b] = blockRange(p, i);
    for (let t = a + 1; t < b; t++)
      if (p.mask[t]) {
        out.push(i);
        break;
      }
  }
  return out;
}
