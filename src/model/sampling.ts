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

/** The token to emit next. */
export function sampleToken(logits: Float32Array, p: SamplingParams, rng: Rng): number {
  if (p.temperature <= 0 || p.topK === 1) return argmax(logits);
  const n = logits.length;
  let idx = Array.from({ length: n }, (_, i) => i);
  // Sort by logit, descending; ties keep the lower id first (deterministic).
  idx.sort((a, b) => logits[b] - logits[a] || a - b);
  if (p.topK > 0 && p.topK < n) idx = idx.slice(0, p.topK);
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
