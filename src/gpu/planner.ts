// GPU memory a model needs for inference or LoRA training, computed from its config
// with the same buffer list the engine allocates (buffers-plan.ts), so the estimate is
// the engine's real allocation, byte for byte (uniform buffers aside: a few KiB, transient).
import type { ModelConfig, LoraTarget } from '../model/types.ts';
import { expectedTensors, moduleShape } from '../model/layout.ts';
import { transformerBuffers } from './buffers-plan.ts';
import { chunkRows } from './weights.ts';
import { memoryReport, type MemoryReport } from './memory.ts';

export interface PlanInput {
  config: ModelConfig;
  seqLen: number;
  lora?: { r: number; targets: readonly LoraTarget[] };
  /** Training keeps gradients and AdamW moments; inference does not. */
  training: boolean;
  /** Low memory mode: fewer kept layer inputs, recomputed in backward (see buffers-plan.ts). */
  lowMemory?: boolean;
  /**
   * Inference serving one adapter merged into the weights (the decoder's default): the 16-bit
   * copies of the projections it targets, counted in `weights` (and in `merged`).
   */
  merged?: boolean;
}

/** The engine's allocation by category (as GpuMemory reports it once allocated), and its largest buffer. */
export interface MemoryPlan extends MemoryReport {
  /** The largest single buffer (must fit maxBufferSize). */
  largestBuffer: number;
  /** Of `weights`, the merged copies (PlanInput.merged). */
  merged?: number;
}

/** Bytes of the 16-bit weight copies a single adapter on `targets` is served merged into (merged-weights.ts). */
export function mergedCopyBytes(config: ModelConfig, targets: readonly LoraTarget[]): number {
  let n = 0;
  for (const t of targets) {
    const { inF, outF } = moduleShape(config, t);
    n += inF * outF * 2;
  }
  return n * config.numLayers;
}

const align4 = (n: number) => Math.max(4, Math.ceil(n / 4) * 4);

export function planMemory(p: PlanInput, maxChunkBytes = 128 * 1024 * 1024): MemoryPlan {
  const c = p.config;
  let weights = 0;
  let largest = 0;
  for (const t of expectedTensors(c)) {
    if (t.shape.length === 2) {
      // 16-bit matrices in row chunks.
      const [rows, cols] = t.shape;
      const per = chunkRows(rows, cols, maxChunkBytes);
      for (let r0 = 0; r0 < rows; r0 += per) {
        const bytes = Math.min(per, rows - r0) * cols * 2;
        weights += bytes;
        largest = Math.max(largest, bytes);
      }
    } else weights += align4(t.shape[0] * 4); // norms and biases in f32 (a tied LM head is not listed)
  }
  let lora = 0;
  let optimizer = 0;
  if (p.lora) {
    for (const t of p.lora.targets) {
      const { inF, outF } = moduleShape(c, t);
      const a = align4(p.lora.r * inF * 4);
      const b = align4(outF * p.lora.r * 4);
      lora += (a + b) * c.numLayers;
      // gradients + two AdamW moments when training; 4-byte placeholder gradients otherwise.
      optimizer += (p.training ? 3 * (a + b) : 0) * c.numLayers;
    }
  }
  const merged = p.merged && p.lora && !p.training ? mergedCopyBytes(c, p.lora.targets) : undefined;
  if (merged) weights += merged;
  let activations = 0;
  let scratch = 0;
  for (const b of transformerBuffers(c, p.seqLen, p.lora, p.lowMemory)) {
    const bytes = align4(b.words * 4);
    if (b.category === 'activations') activations += bytes;
    else scratch += bytes;
    largest = Math.max(largest, bytes);
  }
  if (p.training && p.lora) scratch += align4(2 * p.lora.targets.length * c.numLayers * 4) + 4; // grad-norm partials + norm
  if (p.lora && !p.training) scratch += 2 * 4 * p.lora.targets.length * c.numLayers; // unused gradient slots
  return { ...memoryReport({ weights, lora, optimizer, activations, scratch }), largestBuffer: largest, ...(merged ? { merged } : {}) };
}

/** The longest sequence whose plan stays within `budgetBytes` (0 if none), by bisection. */
export function largestSeqLen(p: Omit<PlanInput, 'seqLen'>, budgetBytes: number, maxChunkBytes?: number): number {
  let lo = 0;
  let hi = p.config.maxPositionEmbeddings;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (planMemory({ ...p, seqLen: mid }, maxChunkBytes).total <= budgetBytes) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
