// Picking the next token from logits on the CPU: greedy (temperature 0), or temperature
// with top-k and top-p (nucleus) filtering, seeded so a request with a seed repeats.
import { Rng } from '../random.ts';

export interface SamplingParams {
  /** 0 = greedy (argmax). */
  temperature: number;
  /** Keep the k most likely tokens; 0 = all. */
  topK: number;
  /** Keep the smallest set whose probability reaches p; 1 = all. */
  topP: number;
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

/** Logits this far below the best one (in temperature units) weigh less than e⁻⁴⁰ each: left out. */
const NEGLIGIBLE = 40;

/** The token to emit next. */
export function sampleToken(logits: Float32Array, p: SamplingParams, rng: Rng): number {
  if (p.temperature <= 0 || p.topK === 1) return argmax(logits);
  const n = logits.length;
  let idx: number[];
  if (p.topK > 0 && p.topK < n) idx = topK(logits, p.topK);
  else {
    // Only candidates that can matter are sorted (exp(−40) ≈ 4e−18 each, so even 150k left
    // out change the distribution by less than 1e−12).
    const floor = logits[argmax(logits)] - NEGLIGIBLE * p.temperature;
    idx = [];
    for (let i = 0; i < n; i++) if (logits[i] >= floor) idx.push(i);
    idx.sort((a, b) => logits[b] - logits[a] || a - b);
  }
  const mx = logits[idx[0]];
  const w = idx.map((i) => Math.exp((logits[i] - mx) / p.temperature));
  const total = w.reduce((a, b) => a + b, 0);
  let keep = w.length;
  if (p.topP < 1) {
    let cum = 0;
    for (let j = 0; j < w.length; j++) {
      cum += w[j] / total;
      if (cum >= p.topP) {
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
