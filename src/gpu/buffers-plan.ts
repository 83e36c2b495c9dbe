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

/** Bytes of f32 logits one chunk of tokens may hold in the LM head + cross-entropy (chunk × vocab). */
export const HEAD_LOGITS_BUDGET = 32 * 1024 * 1024;

/**
 * Tokens per chunk of the LM head + cross-entropy: as many as fit the logits budget (at
 * least one step), a multiple of 16 (whole GEMM tiles) and of what keeps each chunk's
 * rows of a [T, hidden] f32 buffer at a 256-byte offset (the strictest storage-binding
 * alignment WebGPU allows), so chunks are bound in place; T itself when it fits.
 */
export function headChunkTokens(T: number, vocab: number, hidden: number, budgetBytes = HEAD_LOGITS_BUDGET): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const step = Math.max(16, 256 / gcd(hidden * 4, 256));
  const fit = Math.floor(budgetBytes / (4 * vocab) / step) * step;
  // At most 16,384 tokens: one workgroup per token stays within every device's grid limit.
  return Math.min(T, Math.max(step, Math.min(fit, 16384)));
}

/**
 * Which layer inputs are kept through the forward for backward. Normal mode keeps every
 * layer's input (L + 1 buffers of T × hidden). Low memory mode keeps one every k ≈ √L
 * layers plus k − 1 segment buffers, and recomputes a segment's inputs inside backward:
 * ≈ 2√L buffers, one extra forward of compute.
 */
export function checkpointStride(numLayers: number, lowMemory: boolean): number {
  return lowMemory ? Math.max(1, Math.ceil(Math.sqrt(numLayers))) : 1;
}

/** The buffer holding layer l's input (l = numLayers: the final hidden state). */
export function layerInputName(l: number, numLayers: number, stride: number): string {
  return l === numLayers || l % stride === 0 ? `layer${l}.input` : `segment${(l % stride) - 1}`;
}

/**
 * LoRA targets that read the same input, whose products run as one dispatch each (q/k/v
 * read the normed input, gate/up the normed residual); o and down are groups of one.
 */
export const LORA_GROUPS: readonly (readonly LoraTarget[])[] = [
  ['q_proj', 'k_proj', 'v_proj'],
  ['o_proj'],
  ['gate_proj', 'up_proj'],
  ['down_proj'],
];

/** The groups an adapter's targets form (each target in its fixed group, empty groups dropped). */
export function loraGroups(targets: readonly LoraTarget[]): LoraTarget[][] {
  return LORA_GROUPS.map((g) => g.filter((t) => targets.includes(t))).filter((g) => g.length > 0);
}

/** The scratch holding a group's xa = drop(x)·Aᵀ, [T, group size · r]. */
export const loraGroupBuffer = (group: readonly LoraTarget[]) => `xa.${group.join('+')}`;

export function transformerBuffers(
  c: ModelConfig,
  T: number,
  lora?: { r: number; targets: readonly LoraTarget[] },
  lowMemory = false,
): BufferSpec[] {
  const H = c.hiddenSize;
  const I = c.intermediateSize;
  const qd = c.numHeads * c.headDim;
  const kvd = c.numKvHeads * c.headDim;
  const r = lora?.r ?? 0;
  const specs: BufferSpec[] = [];
  const act = (name: string, words: number) => specs.push({ name, words, category: 'activations' });
  const tmp = (name: string, words: number) => specs.push({ name, words, category: 'scratch' });
  // Checkpoints: layer inputs (all, or every stride-th plus a segment's worth) and the final hidden state.
  const stride = checkpointStride(c.numLayers, lowMemory);
  for (let l = 0; l <= c.numLayers; l++) if (l === c.numLayers || l % stride === 0) act(`layer${l}.input`, T * H);
  for (let j = 0; j < Math.min(stride, c.numLayers) - 1; j++) act(`segment${j}`, T * H);
  // One layer's activations and gradients, reused by every layer.
  for (const [n, w] of [
    ['xn', T * H],
    ['q', T * qd],
    ['k', T * kvd],
    ['v', T * kvd],
    ['attn', T * qd],
    ['lse', c.numHeads * T],
    ['h', T * H],
    ['xn2', T * H],
    ['gate', T * I],
    ['up', T * I],
    ['act', T * I],
    ['dh', T * H],
    ['dxn', T * H],
    ['dAct', T * I],
    ['dUp', T * I],
    ['dAttn', T * qd],
    ['dq', T * qd],
    ['dk', T * kvd],
    ['dv', T * kvd],
    ['delta', c.numHeads * T],
  ] as const)
    tmp(n, w);
  const groups = loraGroups(lora?.targets ?? []);
  for (const g of groups) tmp(loraGroupBuffer(g), T * r * g.length);
  // g = dy·B of the group in backward, [T, group size · r].
  tmp('dxa', Math.max(1, T * r * Math.max(1, ...groups.map((g) => g.length))));
  for (const [n, w] of [
    ['ids', T],
    ['targets', T],
    ['finalNormed', T * H],
    ['dx', T * H],
    ['losses', T],
    ['loss', 1],
  ] as const)
    tmp(n, w);
  tmp('ce.logits', headChunkTokens(T, c.vocabSize, H) * c.vocabSize);
  tmp('rope.table', T * c.headDim); // cos and sin of T × headDim/2 angles
  return specs;
}
