// Picking the next token from logits on the CPU: greedy (temperature 0), or temperature
// with top-k and top-p (nucleus) filtering, seeded so a request with a seed repeats.
// `sampleToken` over the whole logits is the reference; the decoder selects candidates on
// the GPU (src/gpu/sampler.ts) and `sampleCandidates` draws from them with the same steps,
// so both give the same token for the same seed.
import type { Rng } from '../random.ts';
import { type Candidates, MAX_GPU_TOP_K, PENALTY_WINDOW } from '../gpu/sampler.ts';

export { type Candidates, MAX_GPU_TOP_K, PENALTY_WINDOW };

export interface SamplingParams {
  /** 0 = greedy (argmax). */
  temperature: number;
  /** Keep the k most likely tokens; 0 = all. */
  topK: number;
  /** Keep the smallest set whose probability reaches p; 1 = all. */
  topP: number;
  /**
   * > 1 makes the distinct tokens among the last PENALTY_WINDOW of the context less likely
   * (HF's repetition_penalty, llama.cpp's repeat_penalty): a positive logit is multiplied by
   * 1/penalty, a negative one by penalty. 1 or absent = off.
   */
  repetitionPenalty?: number;
}

/** The distinct token ids among the last PENALTY_WINDOW of `context`, ascending. */
export function penaltyTokens(context: readonly number[]): number[] {
  return [...new Set(context.slice(-PENALTY_WINDOW))].sort((a, b) => a - b);
}

/**
 * Applies the repetition penalty in place. Multiplying by the f32 reciprocal (not dividing)
 * so the GPU's f32 product is bit-identical: a product of two f32 values is exact in a
 * double, and the Float32Array store rounds it once, as the GPU does.
 */
export function applyRepetitionPenalty(logits: Float32Array, ids: readonly number[], penalty: number): void {
  if (penalty === 1) return;
  const pen = Math.fround(penalty);
  const inv = Math.fround(1 / penalty);
  for (const i of ids) {
    const l = logits[i];
    logits[i] = l > 0 ? l * inv : l * pen;
  }
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/**
 * Indices of the k largest logits, largest first (ties: lower id first), in O(V log k)
 * with a min-heap: a 150k vocabulary is never sorted whole.
 */
export function topK(logits: ArrayLike<number>, k: number): number[] {
  const heap: number[] = []; // min-heap by (logit, then higher id = smaller)
  const less = (a: number, b: number) => logits[a] < logits[b] || (logits[a] === logits[b] && a > b);
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l], heap[m])) m = l;
      if (r < heap.length && less(heap[r], heap[m])) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  for (let i = 0; i < logits.length; i++) {
    if (heap.length < k) {
      heap.push(i);
      for (let j = heap.length - 1; j > 0; ) {
        const p = (j - 1) >> 1;
        if (!less(heap[j], heap[p])) break;
        [heap[j], heap[p]] = [heap[p], heap[j]];
        j = p;
      }
    } else if (less(heap[0], i)) {
      heap[0] = i;
      down(0);
    }
  }
  return heap.sort((a, b) => logits[b] - logits[a] || a - b);
}

/** Candidates examined first for a top-p nucleus; the whole vocabulary only when they fall short. */
export const NUCLEUS_FIRST = 256;

/** Picks from `idx` (largest first) with weights `w`, cut to the top-p nucleus of `total`. */
function pick(idx: number[], w: number[], total: number, topP: number, rng: Rng): number {
  let keep = w.length;
  if (topP < 1) {
    let cum = 0;
    for (let j = 0; j < w.length; j++) {
      cum += w[j] / total;
      if (cum >= topP) {
        keep = j + 1;
        break;
      }
    }
  }
  const kept = w.slice(0, keep).reduce((a, b) => a + b, 0);
  let u = rng.next() * kept;
  for (let j = 0; j < keep; j++) {
    u -= w[j];
    if (u < 0) return idx[j];
  }
  return idx[keep - 1];
}

/**
 * The token to emit next. Never sorts a large vocabulary whole: top-k uses a heap; top-p
 * looks at the 256 most likely tokens first (enough unless the distribution is very flat);
 * plain temperature sampling is one pass.
 */
export function sampleToken(logits: Float32Array, p: SamplingParams, rng: Rng): number {
  if (p.temperature <= 0 || p.topK === 1) return argmax(logits);
  const n = logits.length;
  const weights = (idx: number[], mx: number) => idx.map((i) => Math.exp((logits[i] - mx) / p.temperature));
  if (p.topK > 0 && p.topK < n) {
    const idx = topK(logits, p.topK);
    const w = weights(idx, logits[idx[0]]);
    return pick(
      idx,
      w,
      w.reduce((a, b) => a + b, 0),
      p.topP,
      rng,
    );
  }
  const mx = logits[argmax(logits)];
  let total = 0;
  for (let i = 0; i < n; i++) total += Math.exp((logits[i] - mx) / p.temperature);
  if (p.topP >= 1) {
    let u = rng.next() * total;
    for (let i = 0; i < n; i++) {
      u -= Math.exp((logits[i] - mx) / p.temperature);
      if (u < 0) return i;
    }
    return argmax(logits);
  }
  const idx = topK(logits, Math.min(n, NUCLEUS_FIRST));
  const w = weights(idx, mx);
  if (w.reduce((a, b) => a + b, 0) >= p.topP * total || idx.length === n) return pick(idx, w, total, p.topP, rng);
  return sampleFlatNucleus(logits, mx, total, p, rng);
}

/**
 * Top-p over a flat distribution without sorting: bisect the weight threshold τ whose tokens
 * (weight ≥ τ) first reach p of the total, then sample among them. Equal to the sorted cut
 * except that tokens tied exactly at the threshold are all kept.
 */
function sampleFlatNucleus(logits: Float32Array, mx: number, total: number, p: SamplingParams, rng: Rng): number {
  const n = logits.length;
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = Math.exp((logits[i] - mx) / p.temperature);
  const mass = (tau: number) => {
    let m = 0;
    for (let i = 0; i < n; i++) if (w[i] >= tau) m += w[i];
    return m;
  };
  let lo = 0; // mass(lo) ≥ p·total always
  let hi = 1; // the largest weight is 1
  for (let it = 0; it < 40; it++) {
    const mid = (lo + hi) / 2;
    if (mass(mid) >= p.topP * total) lo = mid;
    else hi = mid;
  }
  let u = rng.next() * mass(lo);
  for (let i = 0; i < n; i++) {
    if (w[i] < lo) continue;
    u -= w[i];
    if (u < 0) return i;
  }
  return argmax(logits);
}

/**
 * What the GPU must select so `sampleCandidates` can draw for `p`: the k largest logits and
 * (top-p alone) the softmax total; undefined when the draw needs every logit (plain
 * temperature sampling, or top_k above MAX_GPU_TOP_K).
 */
export function candidatePlan(p: SamplingParams, vocabSize: number): { k: number; total: boolean } | undefined {
  if (p.temperature <= 0 || p.topK === 1) return { k: 1, total: false };
  if (p.topK > 0 && p.topK < vocabSize) return p.topK <= MAX_GPU_TOP_K ? { k: p.topK, total: false } : undefined;
  if (p.topP >= 1) return undefined;
  return { k: Math.min(vocabSize, NUCLEUS_FIRST), total: true };
}

/**
 * `sampleToken`'s draw from the GPU's candidates: the same weights, the same cut and the same
 * random numbers, so the same token for the same seed. Undefined when the candidates fall
 * short (a top-p nucleus wider than NUCLEUS_FIRST tokens): draw from the whole logits then.
 */
export function sampleCandidates(c: Candidates, p: SamplingParams, rng: Rng): number | undefined {
  if (p.temperature <= 0 || p.topK === 1) return c.ids[0];
  const topk = p.topK > 0 && p.topK < c.vocabSize;
  if (!topk && p.topP >= 1) return undefined; // plain temperature: drawn over the vocabulary in id order
  const n = topk ? p.topK : Math.min(c.vocabSize, NUCLEUS_FIRST);
  if (c.ids.length < n) throw new RangeError(`${n} candidates are needed, ${c.ids.length} were selected`);
  const idx = Array.from({ length: n }, (_, j) => c.ids[j]);
  const mx = c.logits[0];
  const w = Array.from({ length: n }, (_, j) => Math.exp((c.logits[j] - mx) / p.temperature));
  const sum = w.reduce((a, b) => a + b, 0);
  if (topk) return pick(idx, w, sum, p.topP, rng);
  if (c.total === undefined) throw new RangeError('top-p sampling needs the softmax total');
  if (sum >= p.topP * c.total || n === c.vocabSize) return pick(idx, w, c.total, p.topP, rng);
  return undefined;
}
