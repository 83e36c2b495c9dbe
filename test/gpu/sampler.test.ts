// Sampling on the GPU against the CPU sampler (the reference): on random logit vectors with
// many ties, with and without a repetition penalty, the GPU's candidates are exactly the
// reference's top-k (same ids, same order, bit-equal logits after the penalty), greedy
// gives the same id, and seeded draws from the candidates give the same tokens as
// `sampleToken` over the whole penalized logits with the same seed.
// The one value that is not bit-equal by design is the softmax total that top-p alone needs
// (f32 exp and a tree sum on the GPU, float64 in order on the CPU): it is checked to 1e-5
// relative; a draw could differ only if a cumulative probability fell within that of top_p.
import { describe, expect, it } from 'vitest';
import { GpuSampler } from '../../src/gpu/sampler.ts';
import { GpuMemory } from '../../src/gpu/memory.ts';
import {
  applyRepetitionPenalty,
  candidatePlan,
  PENALTY_WINDOW,
  sampleCandidates,
  sampleToken,
  topK,
  type SamplingParams,
} from '../../src/serve/sampling.ts';
import { Rng } from '../../src/random.ts';
import { f32Buffer, gpuSkipReason, readF64, skipNote, testDevice, testRunner } from '../helpers/gpu.ts';
import { randn } from '../helpers/numeric.ts';

/** Logits with many exact ties (quarter steps) or spread values, as f32. */
function logitsFor(V: number, seed: number, kind: 'ties' | 'spread' | 'flat'): Float32Array {
  const r = randn(V, seed);
  if (kind === 'ties') return Float32Array.from(r, (v) => Math.round(v * 4) / 4);
  if (kind === 'flat') return Float32Array.from(r, (v) => v * 0.01);
  return Float32Array.from(r, (v) => v * 3);
}

const PARAMS: SamplingParams[] = [
  { temperature: 0, topK: 0, topP: 1 },
  { temperature: 0.7, topK: 1, topP: 1 },
  { temperature: 0.8, topK: 5, topP: 0.9 },
  { temperature: 1.3, topK: 40, topP: 1 },
  { temperature: 1, topK: 64, topP: 0.5 },
  { temperature: 0.6, topK: 200, topP: 0.95 },
  { temperature: 1, topK: 0, topP: 0.9 },
  { temperature: 0.5, topK: 0, topP: 0.6 },
];

describe.skipIf(!!gpuSkipReason)(`GPU sampling against the CPU sampler${skipNote}`, () => {
  for (const V of [37, 1000, 5003, 151936])
    it(`vocabulary ${V}: same candidates, same greedy id, same seeded draws`, async () => {
      const { device } = await testDevice();
      const runner = await testRunner();
      const memory = new GpuMemory(device);
      const sampler = new GpuSampler(memory, V);
      const kinds = V > 100000 ? (['ties', 'flat'] as const) : (['ties', 'spread', 'flat'] as const);
      let cases = 0;
      let fallbacks = 0;
      let worstTotal = 0;
      for (const [vi, kind] of kinds.entries())
        for (const penalty of [1, 1.3])
          for (const p0 of PARAMS) {
            const p = { ...p0, repetitionPenalty: penalty };
            const plan = candidatePlan(p, V);
            if (!plan) continue;
            const logits = logitsFor(V, 100 * V + vi, kind);
            const rngIds = new Rng(vi + 7);
            const ids = [...new Set(Array.from({ length: PENALTY_WINDOW }, () => Math.floor(rngIds.next() * V)))];
            // The reference: penalty on a CPU copy, then sampleToken over every logit.
            const want = logits.slice();
            applyRepetitionPenalty(want, ids, penalty);
            const buf = await f32Buffer(logits);
            await runner.run((pass) =>
              sampler.record(runner, pass, buf, { ...plan, temperature: p.temperature, penalty: { value: penalty, ids } }),
            );
            const enc = device.createCommandEncoder();
            const bytes = sampler.copy(enc);
            device.queue.submit([enc.finish()]);
            const c = await sampler.read();
            expect(bytes).toBeLessThanOrEqual(256 * 8 + 4);
            const k = Math.min(plan.k, V);
            const ref = topK(want, k);
            expect(Array.from(c.ids), `${kind} ${JSON.stringify(p)}`).toEqual(ref);
            expect(Array.from(c.logits)).toEqual(ref.map((i) => want[i]));
            if (plan.total) {
              let total = 0;
              for (let i = 0; i < V; i++) total += Math.exp((want[i] - want[ref[0]]) / p.temperature);
              const err = Math.abs(c.total! / total - 1);
              worstTotal = Math.max(worstTotal, err);
              expect(err).toBeLessThan(1e-5);
            }
            // Draws in a row from one seed (10; 3 on the large vocabulary, whose reference is slow): candidates (or, when they fall short, the GPU's
            // penalized logits read whole) against the reference.
            const gpuLogits = Float32Array.from(await readF64(buf, V));
            expect(gpuLogits).toEqual(want);
            const a = new Rng(42);
            const b = new Rng(42);
            for (let d = 0; d < (V > 100000 ? 3 : 10); d++) {
              let got = sampleCandidates(c, p, a);
              if (got === undefined) {
                fallbacks++;
                got = sampleToken(gpuLogits, p, a);
              }
              expect(got, `draw ${d} ${kind} ${JSON.stringify(p)}`).toBe(sampleToken(want, p, b));
            }
            buf.destroy();
            cases++;
          }
      console.log(
        `[sampler] V=${V}: ${cases} cases, ${fallbacks} draws needed the whole logits, worst total error ${worstTotal.toExponential(2)}`,
      );
      expect(cases).toBeGreaterThan(20);
      sampler.destroy();
      memory.destroyAll();
    }, 120_000);
});
