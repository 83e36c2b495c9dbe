// The CPU half of GPU sampling: what the GPU is asked to select (candidatePlan), the
// repetition penalty's window and f32 rounding, and sampleCandidates drawing from exact
// top-k candidates the same tokens as sampleToken over the whole logits (same seed).
// test/gpu/sampler.test.ts checks the GPU's candidates against these.
import { describe, expect, it } from 'vitest';
import {
  applyRepetitionPenalty,
  candidatePlan,
  PENALTY_WINDOW,
  penaltyTokens,
  sampleCandidates,
  sampleToken,
  topK,
  type SamplingParams,
} from '../../src/serve/sampling.ts';
import { Rng } from '../../src/random.ts';

describe('sampling from GPU candidates', () => {
  it('asks the GPU for 1 id (greedy), k pairs (top-k ≤ 256), 256 pairs and the total (top-p alone), or nothing', () => {
    expect(candidatePlan({ temperature: 0, topK: 50, topP: 0.5 }, 1000)).toEqual({ k: 1, total: false });
    expect(candidatePlan({ temperature: 1, topK: 1, topP: 1 }, 1000)).toEqual({ k: 1, total: false });
    expect(candidatePlan({ temperature: 1, topK: 40, topP: 0.9 }, 1000)).toEqual({ k: 40, total: false });
    expect(candidatePlan({ temperature: 1, topK: 0, topP: 0.9 }, 1000)).toEqual({ k: 256, total: true });
    expect(candidatePlan({ temperature: 1, topK: 0, topP: 0.9 }, 37)).toEqual({ k: 37, total: true });
    expect(candidatePlan({ temperature: 1, topK: 0, topP: 1 }, 1000)).toBeUndefined();
    expect(candidatePlan({ temperature: 1, topK: 300, topP: 1 }, 1000)).toBeUndefined();
  });

  it('penalizes the distinct tokens of the last 64 and rounds as one f32 product', () => {
    const ctx = [...Array.from({ length: 10 }, () => 999), ...Array.from({ length: PENALTY_WINDOW }, (_, i) => i % 7)];
    expect(penaltyTokens(ctx)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const l = Float32Array.from([3, -3, 0.1, 0]);
    applyRepetitionPenalty(l, [0, 1, 2, 3], 1.3);
    expect(Array.from(l)).toEqual([
      Math.fround(3 * Math.fround(1 / 1.3)),
      Math.fround(-3 * Math.fround(1.3)),
      Math.fround(Math.fround(0.1) * Math.fround(1 / 1.3)),
      0,
    ]);
  });

  it('draws what sampleToken draws, seed for seed, on tied and spread logits', () => {
    const rng = new Rng(1);
    const params: SamplingParams[] = [
      { temperature: 0, topK: 0, topP: 1 },
      { temperature: 0.8, topK: 5, topP: 0.9 },
      { temperature: 1.2, topK: 64, topP: 1 },
      { temperature: 1, topK: 0, topP: 0.9 },
      { temperature: 0.5, topK: 0, topP: 0.5 },
    ];
    let compared = 0;
    for (let v = 0; v < 30; v++) {
      const V = 300 + v * 17;
      const ties = v % 2 === 0;
      const logits = Float32Array.from({ length: V }, () => (ties ? Math.round(rng.normal() * 4) / 4 : rng.normal() * 3));
      for (const p of params) {
        const plan = candidatePlan(p, V)!;
        const ids = topK(logits, plan.k);
        const mx = logits[ids[0]];
        let total = 0;
        for (const x of logits) total += Math.exp((x - mx) / p.temperature);
        const c = { ids, logits: ids.map((i) => logits[i]), total, vocabSize: V };
        const a = new Rng(v);
        const b = new Rng(v);
        for (let d = 0; d < 5; d++) {
          const got = sampleCandidates(c, p, a) ?? sampleToken(logits, p, a);
          expect(got).toBe(sampleToken(logits, p, b));
          compared++;
        }
      }
    }
    expect(compared).toBe(30 * 5 * 5);
  });
});
