// The buffers a Transformer allocates for a sequence length, as data: the Transformer
// allocates exactly these, and the memory planner sums them, so the two cannot drift.
import type { ModelConfig, LoraTarget } from '../model/types.ts';
import type { MemoryCategory } from './memory.ts';

export interface BufferSpec {
  name: string;
  /** Size in 4-byte words (f32, u32 or i32). */
  words: number;
  category: Extract<MemoryCategory, 'activations' | 'scratch'>;
}

/** Rows of the LM head's vocabulary tile: ≈32 MiB of logits whatever the sequence length. */
export function lossTileRows(T: number): number {
  return Math.max(256, Math.min(32768, Math.floor((32 * 1024 * 1024) / (4 * T) / 64) * 64));
}

export function transformerBuffers(c: ModelConfig, T: number, lora?: { r: number; targets: readonly LoraTarget[] }): BufferSpec[] {
  const H = c.hiddenSize;
  const I = c.intermediateSize;
  const qd = c.numHeads * c.headDim;
  const kvd = c.numKvHeads * c.headDim;
  const r = lora?.r ?? 0;
  const specs: BufferSpec[] = [];
  const act = (name: string, words: number) => specs.push({ name, words, category: 'activations' });
  const tmp = (name: string, words: number) => specs.push({ name, words, category: 'scratch' });
  // Checkpoints: each layer's input and the final hidden state.
  for (let l = 0; l <= c.numLayers; l++) act(`layer${l}.input`, T * H);
  // One layer's activations and gradients, reused by every layer.
  for (const [n, w] of [
    ['xn', T * H], ['q', T * qd], ['k', T * kvd], ['v', T * kvd], ['attn', T * qd], ['lse', c.numHeads * T],
    ['h', T * H], ['xn2', T * H], ['gate', T * I], ['up', T * I], ['act', T * I],
    ['dh', T * H], ['dxn', T * H], ['dAct', T * I], ['dGate', T * I], ['dUp', T * I],
    ['dAttn', T * qd], ['dq', T * qd], ['dk', T * kvd], ['dv', T * kvd], ['delta', c.numHeads * T],
  ] as const) tmp(n, w);
  for (const t of lora?.targets ?? []) tmp(`xa.${t}`, T * r);
  tmp('dxa', Math.max(1, T * r));
  for (const [n, w] of [['ids', T], ['targets', T], ['finalNormed', T * H], ['dx', T * H], ['losses', T], ['loss', 1]] as const) tmp(n, w);
  tmp('ce.logits', T * lossTileRows(T));
  tmp('ce.state', T * 4);
  tmp('rope.table', T * c.headDim); // cos and sin of T × headDim/2 angles
  return specs;
}
