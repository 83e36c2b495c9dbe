// Weighted adapter mixes on the GPU against the float64 reference: the reference adds
// each mix's ΔW to the base weights densely (W + Σ wᵢ·sᵢ·Bᵢ·Aᵢ for 'cat'; PEFT's
// (Σ√wᵢ·Bᵢ)(Σ√wᵢ·sᵢ·Aᵢ) for 'linear') and runs the plain model; the GPU runs the mixed
// LoRA through the decoder. Logits within 1e-4 relative (f32 sums, as the transformer test).
// Swapping adapters leaves the base weights in place.
import { describe, expect, it } from 'vitest';
import { uploadModel } from '../../src/gpu/model.ts';
import { GpuLora } from '../../src/gpu/lora.ts';
import { GpuMemory } from '../../src/gpu/memory.ts';
import { Decoder } from '../../src/gpu/decoder.ts';
import { mixAdapters, AdapterMixError, type WeightedAdapter } from '../../src/model/adapter-mix.ts';
import { refForward, type RefWeights } from '../../src/gpu/reference/transformer.ts';
import { LORA_TARGETS, type LoraTarget, type ModelConfig } from '../../src/model/types.ts';
import { gpuSkipReason, skipNote, testDevice } from '../helpers/gpu.ts';
import { relErr } from '../helpers/numeric.ts';
import { randomAdapter, tinyConfig, tinyModel } from '../helpers/tiny.ts';

const prompt = [3, 8, 1, 22, 14, 5, 9];
const KEY: Record<LoraTarget, 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down'> = {
  q_proj: 'q',
  k_proj: 'k',
  v_proj: 'v',
  o_proj: 'o',
  gate_proj: 'gate',
  up_proj: 'up',
  down_proj: 'down',
};

/** Base weights plus ΔW per layer and target, in float64. */
function withDelta(ref: RefWeights, delta: (l: number, t: LoraTarget) => Float64Array | undefined): RefWeights {
  return {
    ...ref,
    layers: ref.layers.map((L, l) => {
      const out = { ...L };
      for (const t of LORA_TARGETS) {
        const d = delta(l, t);
        if (!d) continue;
        const W = Float64Array.from(L[KEY[t]].W);
        for (let i = 0; i < W.length; i++) W[i] += d[i];
        out[KEY[t]] = { ...L[KEY[t]], W };
      }
      return out;
    }),
  };
}

/** B·A for B [out, r], A [r, in], in float64. */
function matmulBA(B: ArrayLike<number>, A: ArrayLike<number>, out: number, r: number, inF: number): Float64Array {
  const d = new Float64Array(out * inF);
  for (let o = 0; o < out; o++) for (let j = 0; j < r; j++) for (let i = 0; i < inF; i++) d[o * inF + i] += B[o * r + j] * A[j * inF + i];
  return d;
}

function lastLogits(config: ModelConfig, w: RefWeights): Float64Array {
  const all = refForward(w, undefined, prompt, undefined, { logits: true }).logits!;
  return all.subarray((prompt.length - 1) * config.vocabSize);
}

describe.skipIf(!!gpuSkipReason)(`weighted adapter mixes vs float64 reference${skipNote}`, () => {
  const config = tinyConfig('qwen2');
  const { tensors, ref } = tinyModel(config, 31);
  const a1: WeightedAdapter = {
    lora: { r: 2, alpha: 4, dropout: 0, targets: [...LORA_TARGETS] },
    layers: randomAdapter(config, 2, [...LORA_TARGETS], 41, 0.5),
    weight: 0.8,
  };
  const a2: WeightedAdapter = {
    lora: { r: 3, alpha: 3, dropout: 0, targets: ['q_proj', 'v_proj', 'up_proj'] },
    layers: randomAdapter(config, 3, ['q_proj', 'v_proj', 'up_proj'], 42, 0.5),
    weight: -0.5,
  };
  const a3: WeightedAdapter = {
    lora: { r: 2, alpha: 2, dropout: 0, targets: ['q_proj', 'o_proj'] },
    layers: randomAdapter(config, 2, ['q_proj', 'o_proj'], 43, 0.5),
    weight: 0.3,
  };

  it("'cat' equals W + Σ wᵢ·sᵢ·Bᵢ·Aᵢ; 'linear' equals PEFT's formula; switching keeps the base weights", async () => {
    const { device } = await testDevice();
    const memory = new GpuMemory(device);
    const model = await uploadModel(memory, config, async (n) => tensors.get(n)!);
    const weightsBytes = memory.report().weights;
    // An f32 KV cache: this compares the mix's arithmetic with float64 at 1e-4; the f16 cache's
    // own tolerance is decoder.test.ts's.
    const decoder = new Decoder(memory, model, { contextLength: 32, kvCache: 'f32' });
    const run = async (parts: WeightedAdapter[] | undefined, combination: 'cat' | 'linear' = 'cat') => {
      const mixed = parts && mixAdapters(config, parts, combination);
      decoder.setAdapter(mixed && new GpuLora(memory, mixed.lora, mixed.layers, { trainable: false }));
      return (await decoder.prefill(prompt)).logits;
    };

    const base = lastLogits(config, ref);
    expect(relErr(await run(undefined), base)).toBeLessThan(1e-4);

    const catRef = withDelta(ref, (l, t) => {
      const { inF, outF } = a1.layers[l][t]!;
      const d = new Float64Array(outF * inF);
      for (const a of [a1, a2]) {
        const p = a.layers[l][t];
        if (!p) continue;
        const ba = matmulBA(p.B, p.A, outF, a.lora.r, inF);
        for (let i = 0; i < d.length; i++) d[i] += a.weight * (a.lora.alpha / a.lora.r) * ba[i];
      }
      return d;
    });
    const catWant = lastLogits(config, catRef);
    expect(relErr(catWant, base)).toBeGreaterThan(1e-2); // the mix really changes the model
    expect(relErr(await run([a1, a2], 'cat'), catWant)).toBeLessThan(1e-4);

    // PEFT 'linear' (equal ranks): A = Σ√wᵢ·sᵢ·Aᵢ, B = Σ√wᵢ·Bᵢ, scale 1 — cross terms included.
    const linRef = withDelta(ref, (l, t) => {
      const parts = [a1, a3].filter((a) => a.layers[l][t]);
      if (!parts.length) return undefined;
      const { inF, outF } = a1.layers[l][t]!;
      const A = new Float64Array(2 * inF);
      const B = new Float64Array(outF * 2);
      for (const a of parts) {
        const p = a.layers[l][t]!;
        for (let i = 0; i < A.length; i++) A[i] += Math.sqrt(a.weight) * (a.lora.alpha / a.lora.r) * p.A[i];
        for (let i = 0; i < B.length; i++) B[i] += Math.sqrt(a.weight) * p.B[i];
      }
      return matmulBA(B, A, outF, 2, inF);
    });
    expect(relErr(await run([a1, a3], 'linear'), lastLogits(config, linRef))).toBeLessThan(1e-4);

    // A single adapter at weight 0.8 is 0.8 of its delta, by either combination.
    const single = withDelta(ref, (l, t) => {
      const p = a1.layers[l][t]!;
      return matmulBA(p.B, p.A, p.outF, 2, p.inF).map((v) => 0.8 * 2 * v);
    });
    expect(relErr(await run([a1], 'linear'), lastLogits(config, single))).toBeLessThan(1e-4);
    expect(relErr(await run([a1], 'cat'), lastLogits(config, single))).toBeLessThan(1e-4);

    // Back to the base: same logits; the base weights were never re-uploaded.
    expect(relErr(await run(undefined), base)).toBeLessThan(1e-4);
    expect(memory.report().weights).toBe(weightsBytes);
    expect(() => mixAdapters(config, [a1, a2], 'linear')).toThrow(AdapterMixError);
    expect(() => mixAdapters(config, [{ ...a1, weight: 0 }])).toThrow(/non-zero/);
    memory.destroyAll();
  });
});
