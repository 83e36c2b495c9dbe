// A single adapter served merged into the weights (kernels/lora-merge.ts, merged-weights.ts):
// the merged 16-bit weights against a float64 merge rounded once to the storage format
// (bit-exact but for rare 1-ulp ties, see below); merged decoding against unmerged on the
// bench fixture, each against its float64 model (so their difference is the merged weights'
// rounding and nothing else), with the base model's dispatches per token; hot swaps against
// fresh loads (exact); a mix served unmerged as before; the fallback when the copy does not fit.
import { describe, expect, it } from 'vitest';
import { uploadModel } from '../../src/gpu/model.ts';
import { GpuLora } from '../../src/gpu/lora.ts';
import { GpuMemory } from '../../src/gpu/memory.ts';
import { Decoder } from '../../src/gpu/decoder.ts';
import { readBuffer } from '../../src/gpu/buffers.ts';
import { mergedCopyBytes } from '../../src/gpu/planner.ts';
import type { WeightTensor } from '../../src/gpu/weights.ts';
import { uploadAdapterMix } from '../../src/serve/serving-adapter.ts';
import { argmax } from '../../src/serve/sampling.ts';
import { randomTensors } from '../../src/model/fixtures/random-weights.ts';
import { TINY_DEFAULTS, tinyModelConfig } from '../../src/model/fixtures/tiny-model.ts';
import { bf16ToFloat, f16ToFloat, floatToBf16, floatToF16 } from '../../src/model/dtype.ts';
import {
  LORA_TARGETS,
  type HostAdapter,
  type HostTensor,
  type LoraConfig,
  type LoraTarget,
  type ModelConfig,
} from '../../src/model/types.ts';
import { gpuSkipReason, skipNote, testDevice } from '../helpers/gpu.ts';
import { relErr } from '../helpers/numeric.ts';
import { randomAdapter, refLora, tinyConfig } from '../helpers/tiny.ts';
import { refForward, refWeightsFromTensors } from '../../src/gpu/reference/transformer.ts';

const N = 64;
const prompt = [3, 8, 1, 22, 14, 5, 9, 30, 2, 11];
const FIELD = { q_proj: 'q', k_proj: 'k', v_proj: 'v', o_proj: 'o', gate_proj: 'gate', up_proj: 'up', down_proj: 'down' } as const;
const LAYER_NAME: Record<LoraTarget, string> = {
  q_proj: 'self_attn.q_proj',
  k_proj: 'self_attn.k_proj',
  v_proj: 'self_attn.v_proj',
  o_proj: 'self_attn.o_proj',
  gate_proj: 'mlp.gate_proj',
  up_proj: 'mlp.up_proj',
  down_proj: 'mlp.down_proj',
};

async function words(w: WeightTensor): Promise<Uint16Array> {
  const { device } = await testDevice();
  const out = new Uint16Array(w.rows * w.cols);
  for (const c of w.chunks) out.set(new Uint16Array(await readBuffer(device, c.buffer)), c.rowStart * w.cols);
  return out;
}

/** The 16-bit value nearest to x (float64), ties to even: one rounding, as a float64 merge stored in `dtype`. */
function round16(x: number, dtype: 'bf16' | 'f16'): number {
  const toF = dtype === 'bf16' ? bf16ToFloat : f16ToFloat;
  // Through f32 (double rounding) it is at most one step off: look at both neighbours.
  let best = (dtype === 'bf16' ? floatToBf16 : floatToF16)(x);
  let err = Math.abs(toF(best) - x);
  for (const n of [best - 1, best + 1]) {
    const b = n & 0xffff;
    const e = Math.abs(toF(b) - x);
    if (Number.isNaN(e)) continue;
    if (e < err || (e === err && (b & 1) === 0)) [best, err] = [b, e];
  }
  return best;
}

/** Steps between two 16-bit values of one format (signed magnitude on one integer line; ±0 are 0). */
const ulps = (a: number, b: number) => {
  const line = (v: number) => (v & 0x8000 ? -(v & 0x7fff) : v);
  return Math.abs(line(a) - line(b));
};

async function load(config: ModelConfig, tensors: Map<string, HostTensor>, maxChunkBytes?: number) {
  const { device } = await testDevice();
  const memory = new GpuMemory(device);
  const model = await uploadModel(memory, config, async (n) => tensors.get(n)!, { maxChunkBytes });
  return { memory, model };
}

async function greedy(decoder: Decoder, n: number): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  const tokens: number[] = [];
  const logits: Float32Array[] = [];
  let l = (await decoder.prefill(prompt)).logits;
  for (let i = 0; i < n; i++) {
    logits.push(l);
    tokens.push(argmax(l));
    if (i + 1 < n) l = await decoder.step(tokens[i]);
  }
  return { tokens, logits };
}

const gpuLora = (memory: GpuMemory, lora: LoraConfig, host: HostAdapter, single = true) =>
  new GpuLora(memory, lora, host, { trainable: false, single });

describe.skipIf(!!gpuSkipReason)(`a single adapter merged into the weights${skipNote}`, () => {
  const small = (dtype: 'bf16' | 'f16') =>
    tinyConfig('qwen2', {
      hiddenSize: 64,
      intermediateSize: 128,
      numHeads: 4,
      numKvHeads: 2,
      headDim: 16,
      vocabSize: 64,
      torchDtype: dtype === 'f16' ? 'float16' : 'bfloat16',
    });
  const lora1: LoraConfig = { r: 4, alpha: 8, dropout: 0, targets: [...LORA_TARGETS] };
  const lora2: LoraConfig = { r: 2, alpha: 2, dropout: 0, targets: ['q_proj', 'v_proj', 'up_proj'] };

  for (const [dtype, maxChunkBytes] of [
    ['bf16', undefined],
    ['f16', undefined],
    ['bf16', 1000],
  ] as const)
    it(`${dtype}${maxChunkBytes ? ', weights in small chunks' : ''}: merged weights are the float64 merge rounded once (within 1 ulp, or f32's error where W and s·B·A cancel); the base stays`, async () => {
      const config = small(dtype);
      const tensors = randomTensors(config, 3, dtype);
      const { memory, model } = await load(config, tensors, maxChunkBytes);
      const host = randomAdapter(config, lora1.r, lora1.targets, 7, 0.2);
      const decoder = new Decoder(memory, model, { contextLength: 32, kvCache: 'f32' });
      decoder.setAdapter(gpuLora(memory, lora1, host));
      expect(decoder.adapterMode).toBe('unmerged'); // until the next run merges it
      await decoder.prefill([1, 2, 3]);
      expect(decoder.adapterMode).toBe('merged');
      expect(decoder.mergedBytes).toBe(mergedCopyBytes(config, lora1.targets));

      const toF = dtype === 'bf16' ? bf16ToFloat : f16ToFloat;
      const scale = lora1.alpha / lora1.r;
      let total = 0;
      let exact = 0;
      let oneUlp = 0;
      let cancelled = 0;
      let changed = 0;
      for (let l = 0; l < config.numLayers; l++)
        for (const t of LORA_TARGETS) {
          const base = tensors.get(`model.layers.${l}.${LAYER_NAME[t]}.weight`)!;
          const got = await words(decoder.mergedWeight(l, t)!);
          expect(await words(model.layers[l][FIELD[t]].weight)).toEqual(base.data); // the base is untouched
          const { A, B, inF, outF } = host[l][t]!;
          for (let o = 0; o < outF; o++)
            for (let i = 0; i < inF; i++) {
              let d = 0;
              let dAbs = 0;
              for (let j = 0; j < lora1.r; j++) {
                d += B[o * lora1.r + j] * A[j * inF + i];
                dAbs += Math.abs(B[o * lora1.r + j] * A[j * inF + i]);
              }
              const k = o * inF + i;
              const w = toF(base.data[k]);
              const x = w + scale * d;
              const want = d === 0 ? base.data[k] : round16(x, dtype);
              const u = ulps(got[k], want);
              total++;
              if (got[k] !== base.data[k]) changed++;
              if (u === 0) exact++;
              else if (u === 1) oneUlp++;
              else {
                // W and s·B·A cancel far below their own size: the f32 sums' error, at most
                // (r + 2)·2⁻²⁴·(|W| + s·Σ|B·A|), is then more than the tiny result's ulp.
                expect(Math.abs(x), `layer ${l} ${t} [${o}, ${i}]`).toBeLessThan(2 ** -8 * Math.abs(w));
                expect(Math.abs(toF(got[k]) - x)).toBeLessThanOrEqual((lora1.r + 2) * 2 ** -24 * (Math.abs(w) + scale * dAbs));
                cancelled++;
              }
            }
        }
      console.log(
        `[lora-merge] ${dtype}: ${exact}/${total} bit-exact, ${oneUlp} within 1 ulp, ${cancelled} where W and s·B·A cancel (within f32's error)`,
      );
      // A 1-ulp miss needs the f64 value within f32's few-ulp error of a halfway point: rare.
      expect(exact / total).toBeGreaterThan(0.999);
      expect(changed / total).toBeGreaterThan(0.5); // the adapter really moves the weights
      memory.destroyAll();
    });

  for (const dtype of ['bf16', 'f16'] as const)
    it(`${dtype} bench fixture: merged decoding is the float64 model of the rounded merged weights, unmerged that of W + s·B·A; ${N} greedy tokens agree except where those two models do; base dispatches per token`, async () => {
      const config = tinyModelConfig({ ...TINY_DEFAULTS, layers: 4, hidden: 256, heads: 4, kvHeads: 2, intermediate: 704, dtype }, 1024, 0);
      const tensors = randomTensors(config, 1, dtype);
      const { memory, model } = await load(config, tensors);
      const lora: LoraConfig = { r: 16, alpha: 32, dropout: 0, targets: [...LORA_TARGETS] };
      const host = randomAdapter(config, lora.r, lora.targets, 5, 0.02);
      const adapter = gpuLora(memory, lora, host);
      const opts = { contextLength: prompt.length + N, kvCache: 'f32' as const };
      const merged = new Decoder(memory, model, opts);
      const unmerged = new Decoder(memory, model, { ...opts, merge: false });
      const base = await greedy(merged, 2);
      const baseDispatches = merged.lastDispatches;
      merged.setAdapter(adapter);
      unmerged.setAdapter(adapter);
      const m = await greedy(merged, N);
      expect(merged.adapterMode).toBe('merged');
      expect(merged.lastDispatches).toBe(baseDispatches);
      const u = await greedy(unmerged, N);
      expect(unmerged.adapterMode).toBe('unmerged');
      expect(unmerged.lastDispatches).toBeGreaterThan(baseDispatches);
      expect(relErr(u.logits[0], base.logits[0])).toBeGreaterThan(0.05); // the adapter matters

      // Float64 references along the unmerged decode's tokens: the model with the weights the
      // merged decoder serves (read back), and the base with the LoRA added exactly.
      const toF = dtype === 'bf16' ? bf16ToFloat : f16ToFloat;
      const served = new Map<string, Float64Array>();
      for (let l = 0; l < config.numLayers; l++)
        for (const t of LORA_TARGETS)
          served.set(`model.layers.${l}.${LAYER_NAME[t]}.weight`, Float64Array.from(await words(merged.mergedWeight(l, t)!), toF));
      const ref = (name: string) => served.get(name) ?? Float64Array.from(tensors.get(name)!.data, toF);
      const ids = [...prompt, ...u.tokens.slice(0, N - 1)];
      const V = config.vocabSize;
      const rows = (all: Float64Array) =>
        Array.from({ length: N }, (_, i) => all.subarray((prompt.length - 1 + i) * V, (prompt.length + i) * V));
      const refMerged = rows(refForward(refWeightsFromTensors(config, ref), undefined, ids, undefined, { logits: true }).logits!);
      const refExact = rows(
        refForward(
          refWeightsFromTensors(config, (n) => Float64Array.from(tensors.get(n)!.data, toF)),
          refLora(host, lora.r, lora.alpha),
          ids,
          undefined,
          { logits: true },
        ).logits!,
      );
      // Up to the first differing token both decodes saw the same tokens: each equals its
      // float64 model (f32 sums, as decoder.test.ts: 1e-4), so merged − unmerged is exactly
      // the merged weights' rounding, R = relErr(refMerged, refExact), and nothing of the engine's.
      let d = m.tokens.findIndex((t, i) => t !== u.tokens[i]);
      if (d < 0) d = N;
      let worst = 0;
      let rounding = 0;
      for (let i = 0; i < Math.min(d + 1, N); i++) {
        expect(relErr(m.logits[i], refMerged[i]), `merged token ${i}`).toBeLessThan(1e-4);
        expect(relErr(u.logits[i], refExact[i]), `unmerged token ${i}`).toBeLessThan(1e-4);
        const r = relErr(refMerged[i], refExact[i]);
        expect(relErr(m.logits[i], u.logits[i])).toBeLessThan(r + 2e-4);
        worst = Math.max(worst, relErr(m.logits[i], u.logits[i]));
        rounding = Math.max(rounding, r);
      }
      // Where the tokens first differ, the float64 models differ the same way: the rounding
      // decides there (a near tie), not the engine.
      if (d < N) {
        expect(argmax(refMerged[d])).toBe(m.tokens[d]);
        expect(argmax(refExact[d])).toBe(u.tokens[d]);
      }
      console.log(
        `[lora-merge] ${dtype} fixture: greedy tokens equal ${d === N ? `for all ${N}` : `up to token ${d} (a near tie the float64 models split too)`}; ` +
          `merged vs unmerged logits ≤ ${worst.toExponential(2)} (float64 rounding effect ≤ ${rounding.toExponential(2)}); ` +
          `dispatches per token base ${baseDispatches}, merged ${merged.lastDispatches}, unmerged ${unmerged.lastDispatches}; merge ${merged.lastMergeMs?.toFixed(1)} ms`,
      );
      if (dtype === 'f16') expect(d).toBe(N); // f16's rounding (2⁻¹¹) is 8× finer: all 64 agree here
      memory.destroyAll();
    });

  it('hot swap adapter 1 → adapter 2 → base → adapter 1 gives exactly what a fresh load of each gives', async () => {
    const config = small('bf16');
    const tensors = randomTensors(config, 4);
    const host1 = randomAdapter(config, lora1.r, lora1.targets, 11, 0.3);
    const host2 = randomAdapter(config, lora2.r, lora2.targets, 12, 0.3);
    const fresh = async (lora?: LoraConfig, host?: HostAdapter) => {
      const { memory, model } = await load(config, tensors);
      const d = new Decoder(memory, model, { contextLength: 48, kvCache: 'f32' });
      d.setAdapter(lora && host ? gpuLora(memory, lora, host) : undefined);
      const out = await greedy(d, 24);
      memory.destroyAll();
      return out;
    };
    const want = { a1: await fresh(lora1, host1), a2: await fresh(lora2, host2), base: await fresh() };
    expect(want.a1.tokens).not.toEqual(want.base.tokens);
    expect(want.a2.tokens).not.toEqual(want.base.tokens);

    const { memory, model } = await load(config, tensors);
    const d = new Decoder(memory, model, { contextLength: 48, kvCache: 'f32' });
    const g1 = gpuLora(memory, lora1, host1);
    const g2 = gpuLora(memory, lora2, host2);
    for (const [name, adapter] of [
      ['a1', g1],
      ['a2', g2],
      ['base', undefined],
      ['a1', g1],
    ] as const) {
      d.setAdapter(adapter);
      const got = await greedy(d, 24);
      expect(d.adapterMode, name).toBe(adapter ? 'merged' : 'none');
      expect(got.tokens, name).toEqual(want[name].tokens);
      expect(got.logits, name).toEqual(want[name].logits);
    }
    // Adapter 2 left the projections it does not target to the base: their copies from adapter 1 were not used.
    d.setAdapter(g2);
    await d.prefill([1]);
    expect(d.mergedWeight(0, 'k_proj')).toBeUndefined();
    expect(d.mergedWeight(0, 'q_proj')).toBeDefined();
    // The copies were allocated once: adapter 1's targets cover adapter 2's.
    expect(d.mergedBytes).toBe(mergedCopyBytes(config, LORA_TARGETS));
    for (const t of LORA_TARGETS)
      expect(await words(model.layers[1][FIELD[t]].weight)).toEqual(tensors.get(`model.layers.1.${LAYER_NAME[t]}.weight`)!.data);
    memory.destroyAll();
  });

  it('a mix of adapters is served unmerged, as before; one adapter through the same upload is merged', async () => {
    const config = small('bf16');
    const { memory, model } = await load(config, randomTensors(config, 5));
    const parts = [
      { name: 'one', lora: lora1, layers: randomAdapter(config, lora1.r, lora1.targets, 21, 0.3), weight: 0.8 },
      { name: 'two', lora: lora2, layers: randomAdapter(config, lora2.r, lora2.targets, 22, 0.3), weight: -0.5 },
    ];
    const mix = (await uploadAdapterMix(memory, config, parts, 'cat'))!;
    expect(mix.single).toBe(false);
    const d = new Decoder(memory, model, { contextLength: 48, kvCache: 'f32' });
    const before = new Decoder(memory, model, { contextLength: 48, kvCache: 'f32', merge: false });
    const base = await greedy(d, 2);
    const baseDispatches = d.lastDispatches;
    d.setAdapter(mix);
    before.setAdapter(mix);
    const got = await greedy(d, 16);
    expect(d.adapterMode).toBe('unmerged');
    expect(d.mergedBytes).toBe(0);
    expect(d.lastDispatches).toBeGreaterThan(baseDispatches);
    const want = await greedy(before, 16);
    expect(got.tokens).toEqual(want.tokens);
    expect(got.logits).toEqual(want.logits);
    expect(relErr(got.logits[0], base.logits[0])).toBeGreaterThan(1e-2);

    const one = (await uploadAdapterMix(memory, config, [parts[0]], 'cat'))!;
    expect(one.single).toBe(true);
    d.setAdapter(one);
    await greedy(d, 2);
    expect(d.adapterMode).toBe('merged');
    expect(d.lastDispatches).toBe(baseDispatches);
    memory.destroyAll();
  });

  it('when the merged copy does not fit the memory budget, serves unmerged (same logits) and says so once', async () => {
    const config = small('bf16');
    const { memory, model } = await load(config, randomTensors(config, 6));
    const g1 = gpuLora(memory, lora1, randomAdapter(config, lora1.r, lora1.targets, 31, 0.3));
    const g2 = gpuLora(memory, lora2, randomAdapter(config, lora2.r, lora2.targets, 32, 0.3));
    const need = mergedCopyBytes(config, lora2.targets); // the smaller of the two
    const unmerged = new Decoder(memory, model, { contextLength: 48, kvCache: 'f32', merge: false });
    const logs: string[] = [];
    const tight = new Decoder(memory, model, { contextLength: 48, kvCache: 'f32', log: (m) => logs.push(m) });
    // The budget: everything held now, and one byte less than either adapter's copies need.
    tight.memoryBudget = memory.report().total + need - 1;
    const weights = memory.report().weights;
    for (const g of [g1, g2, g1]) {
      tight.setAdapter(g);
      unmerged.setAdapter(g);
      const got = await greedy(tight, 8);
      expect(tight.adapterMode).toBe('unmerged');
      const want = await greedy(unmerged, 8);
      expect(got.tokens).toEqual(want.tokens);
      expect(got.logits).toEqual(want.logits);
    }
    expect(tight.mergedBytes).toBe(0);
    expect(memory.report().weights).toBe(weights); // no copy was kept
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^Serving the adapter unmerged: its merged weights need .* MiB more/);

    // With room for it, the same adapter is merged.
    const roomy = new Decoder(memory, model, { contextLength: 48, kvCache: 'f32', log: (m) => logs.push(m) });
    roomy.setAdapter(g1);
    roomy.memoryBudget = memory.report().total + mergedCopyBytes(config, lora1.targets);
    await roomy.prefill(prompt);
    expect(roomy.adapterMode).toBe('merged');
    expect(logs).toHaveLength(1);
    memory.destroyAll();
  });
});
