// The GPU half of sampling: after the LM head, apply the repetition penalty, select the k
// largest logits (and, for top-p alone, the softmax total), and read back only those
// (id, logit) pairs — 8 bytes for greedy, ≤ 2 KB otherwise, instead of vocab × 4 bytes.
// The CPU makes the seeded draw (src/serve/sampling.ts: sampleCandidates).
import type { KernelRunner } from './kernel.ts';
import type { GpuMemory } from './memory.ts';
import { firstPassGroups, listSize, repetitionPenalty, softmaxTotal, topKSelect } from './kernels/top-k.ts';

/** Tokens of the context the repetition penalty looks at (llama.cpp's repeat_last_n). */
export const PENALTY_WINDOW = 64;
/** The largest top_k whose candidates the GPU selects; a larger one reads the whole logits back. */
export const MAX_GPU_TOP_K = 256;

/** The candidates the GPU selected: the k largest logits, largest first (ties: lower id first). */
export interface Candidates {
  ids: ArrayLike<number>;
  logits: ArrayLike<number>;
  /** Σ exp((logit − max)/temperature) over the whole vocabulary (top-p without top-k only). */
  total?: number;
  vocabSize: number;
}

/** What to select after a forward pass. */
export interface Selection {
  /** Candidates wanted (1 = greedy), ≤ MAX_GPU_TOP_K. */
  k: number;
  /** Also compute Σ exp((logit − max)/temperature) over the vocabulary (top-p without top-k). */
  total: boolean;
  temperature: number;
  /** Applied to the logits in place first (ids distinct, at most PENALTY_WINDOW). */
  penalty?: { value: number; ids: readonly number[] };
}

export class GpuSampler {
  private a: GPUBuffer;
  private b: GPUBuffer;
  private total: GPUBuffer;
  private penaltyIds: GPUBuffer;
  private staging: GPUBuffer;
  private pending?: { list: GPUBuffer; k: number; K: number; total: boolean };
  /** Bytes the last `read` mapped. */
  lastBytes = 0;

  constructor(
    private memory: GpuMemory,
    readonly vocabSize: number,
  ) {
    const entries = firstPassGroups(vocabSize) * listSize(MAX_GPU_TOP_K);
    this.a = memory.buffer('scratch', entries * 8, 'sampler.a');
    this.b = memory.buffer('scratch', entries * 8, 'sampler.b');
    this.total = memory.buffer('scratch', 16, 'sampler.total');
    this.penaltyIds = memory.buffer('scratch', PENALTY_WINDOW * 4, 'sampler.penaltyIds');
    this.staging = memory.device.createBuffer({
      label: 'sampler.staging',
      size: listSize(MAX_GPU_TOP_K) * 8 + 16,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  /** Records the penalty and the selection over `logits` [vocab] (writes the penalty ids now). */
  record(runner: KernelRunner, pass: GPUComputePassEncoder, logits: GPUBuffer, sel: Selection): void {
    if (sel.k < 1 || sel.k > MAX_GPU_TOP_K) throw new RangeError(`the GPU selects 1..${MAX_GPU_TOP_K} candidates, not ${sel.k}`);
    const V = this.vocabSize;
    const pen = sel.penalty;
    if (pen && pen.value !== 1 && pen.ids.length > 0) {
      if (pen.ids.length > PENALTY_WINDOW) throw new RangeError(`at most ${PENALTY_WINDOW} penalized tokens, got ${pen.ids.length}`);
      this.memory.device.queue.writeBuffer(this.penaltyIds, 0, Uint32Array.from(pen.ids));
      repetitionPenalty(runner, pass, logits, this.penaltyIds, pen.ids.length, pen.value);
    }
    const list = topKSelect(runner, pass, logits, V, sel.k, this.a, this.b);
    if (sel.total) softmaxTotal(runner, pass, logits, list, this.total, V, sel.temperature);
    this.pending = { list, k: Math.min(sel.k, V), K: listSize(sel.k), total: sel.total };
  }

  /** Records the copy of what `record` selected into the read-back buffer; returns its bytes. */
  copy(enc: GPUCommandEncoder): number {
    const p = this.pending;
    if (!p) throw new Error('nothing was selected');
    enc.copyBufferToBuffer(p.list, 0, this.staging, 0, p.K * 8);
    if (p.total) enc.copyBufferToBuffer(this.total, 0, this.staging, p.K * 8, 4);
    return this.bytes(p);
  }

  /** Maps the read-back buffer (after the submit) and returns the candidates. */
  async read(): Promise<Candidates> {
    const p = this.pending;
    if (!p) throw new Error('nothing was selected');
    this.pending = undefined;
    const bytes = this.bytes(p);
    this.lastBytes = bytes;
    await this.staging.mapAsync(GPUMapMode.READ, 0, bytes);
    const words = new Uint32Array(this.staging.getMappedRange(0, bytes).slice(0));
    this.staging.unmap();
    const ids = new Uint32Array(p.k);
    const logits = new Float32Array(p.k);
    const bits = new Uint32Array(logits.buffer);
    for (let j = 0; j < p.k; j++) {
      bits[j] = words[2 * j];
      ids[j] = words[2 * j + 1];
    }
    const total = p.total ? new Float32Array(words.buffer, p.K * 8, 1)[0] : undefined;
    return { ids, logits, total, vocabSize: this.vocabSize };
  }

  destroy(): void {
    for (const b of [this.a, this.b, this.total, this.penaltyIds]) this.memory.release(b);
    this.staging.destroy();
  }

  private bytes(p: { K: number; total: boolean }): number {
    return p.K * 8 + (p.total ? 4 : 0);
  }
}
