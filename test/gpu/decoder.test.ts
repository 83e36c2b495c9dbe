// KV-cache decoding against full recomputation: 64 greedy tokens decoded one at a time
// (matrix–vector projections, attention over the cache) give the same tokens as the
// argmax of one full forward over the whole sequence, and the same logits within 1e-4
// relative (f32 sums in a different order: chunked prefill, split-key attention).
// Prefix reuse gives the same logits as a fresh prefill. These run on an f32 KV cache; the
// f16 cache is checked against it (same greedy tokens, logits within F16_KV_TOL), and
// generateTokens (candidates selected on the GPU) against the CPU sampler over whole logits.
import { describe, expect, it } from 'vitest';
import { uploadModel } from '../../src/gpu/model.ts';
import { GpuMemory } from '../../src/gpu/memory.ts';
import { Transformer } from '../../src/gpu/transformer.ts';
import { Decoder } from '../../src/gpu/decoder.ts';
import { generateTokens } from '../../src/serve/generate.ts';
import { listSize } from '../../src/gpu/kernels/top-k.ts';
import {
  applyRepetitionPenalty,
  argmax,
  candidatePlan,
  penaltyTokens,
  sampleToken,
  type SamplingParams,
} from '../../src/serve/sampling.ts';
import { Rng } from '../../src/random.ts';
import { refForward } from '../../src/gpu/reference/transformer.ts';
import { gpuSkipReason, readF64, skipNote, testDevice, testRunner } from '../helpers/gpu.ts';
import { relErr } from '../helpers/numeric.ts';
import { tinyConfig, tinyModel } from '../helpers/tiny.ts';

const prompt = [1, 5, 9, 2, 30, 7, 7, 0, 36, 11, 4];
const N = 64;
/**
 * Logits of an f16 KV cache against an f32 one, relative to the largest logit. Rounding K and
 * V to f16 moves each element by ≤ 2⁻¹¹ ≈ 4.9e-4 of itself; a score q·k moves by up to
 * 2⁻¹¹·Σ|q_d·k_d|, which exceeds 2⁻¹¹·|q·k| where terms cancel, and the random tiny models
 * carry that through 2 layers and the LM head with gains above 1. Measured on lavapipe: first
 * token ≤ 2e-3, worst of 64 tokens 6.8e-3 (llama) and 4.6e-3 (qwen2); the bound is 20·2⁻¹¹.
 */
const F16_KV_TOL = 1e-2;

describe.skipIf(!!gpuSkipReason)(`KV-cache decoding${skipNote}`, () => {
  for (const arch of ['llama', 'qwen2'] as const)
    for (const maxChunkBytes of [undefined, 200]) {
      it(`${arch}, ${maxChunkBytes ? 'weights in small chunks' : 'whole weights'}: ${N} greedy tokens equal full recomputation`, async () => {
        const { device } = await testDevice();
        const runner = await testRunner();
        // llama with DeepSeek-Coder's linear RoPE scaling.
        const config = tinyConfig(arch, {
          headDim: 8,
          hiddenSize: 32,
          numHeads: 4,
          numKvHeads: 2,
          ...(arch === 'llama' ? { ropeLinearFactor: 4 } : {}),
        });
        const { tensors } = tinyModel(config, 5);
        const memory = new GpuMemory(device);
        const model = await uploadModel(memory, config, async (n) => tensors.get(n)!, { maxChunkBytes });
        const decoder = new Decoder(memory, model, { contextLength: prompt.length + N, chunk: 4, kvCache: 'f32' });
        const stepLogits: Float32Array[] = [];
        let { logits } = await decoder.prefill(prompt);
        const generated: number[] = [];
        for (let i = 0; i < N; i++) {
          stepLogits.push(logits);
          const id = argmax(logits);
          generated.push(id);
          if (i + 1 < N) logits = await decoder.step(id);
        }
        const all = [...prompt, ...generated.slice(0, N - 1)];
        const tf = new Transformer(runner, memory, model, undefined, { seqLen: all.length });
        tf.setBatch(all);
        const full = memory.buffer('scratch', all.length * config.vocabSize * 4);
        await runner.run((pass) => {
          tf.recordForward(pass);
          tf.recordLogits(pass, full);
        });
        const V = config.vocabSize;
        const fullLogits = await readF64(full, all.length * V);
        let worst = 0;
        for (let i = 0; i < N; i++) {
          const row = fullLogits.subarray((prompt.length - 1 + i) * V, (prompt.length + i) * V);
          expect(argmax(row), `token ${i}`).toBe(generated[i]);
          worst = Math.max(worst, relErr(stepLogits[i], row));
        }
        expect(worst).toBeLessThan(1e-4);
        // The generated text is not degenerate (the check above would be weak on one repeated token).
        expect(new Set(generated).size).toBeGreaterThan(3);
        decoder.destroy();
        memory.destroyAll();
      });
    }

  for (const config of [tinyConfig('qwen2'), tinyConfig('llama', { ropeLinearFactor: 4 })])
    it(`first-token logits match the float64 reference (${config.modelType}${config.ropeLinearFactor ? ', linear RoPE scaling' : ''})`, async () => {
      const { device } = await testDevice();
      const { tensors, ref } = tinyModel(config, 8);
      const memory = new GpuMemory(device);
      const model = await uploadModel(memory, config, async (n) => tensors.get(n)!);
      const decoder = new Decoder(memory, model, { contextLength: 32, kvCache: 'f32' });
      const { logits } = await decoder.prefill(prompt);
      const want = refForward(ref, undefined, prompt, undefined, { logits: true }).logits!;
      expect(relErr(logits, want.subarray((prompt.length - 1) * config.vocabSize))).toBeLessThan(1e-4);
      if (device.features.has('shader-f16')) {
        const f16 = new Decoder(memory, model, { contextLength: 32, kvCache: 'f16' });
        const got = (await f16.prefill(prompt)).logits;
        expect(relErr(got, want.subarray((prompt.length - 1) * config.vocabSize))).toBeLessThan(F16_KV_TOL);
      }
      memory.destroyAll();
    });

  for (const arch of ['llama', 'qwen2'] as const)
    it(`${arch}: an f16 KV cache gives the f32 cache's ${N} greedy tokens, logits within ${F16_KV_TOL}`, async () => {
      const { device } = await testDevice();
      if (!device.features.has('shader-f16')) return; // f32 is the only cache there
      const config = tinyConfig(arch, { headDim: 8, hiddenSize: 32, numHeads: 4, numKvHeads: 2 });
      const { tensors } = tinyModel(config, 6);
      const memory = new GpuMemory(device);
      const model = await uploadModel(memory, config, async (n) => tensors.get(n)!);
      const run = async (kvCache: 'f16' | 'f32') => {
        const dec = new Decoder(memory, model, { contextLength: prompt.length + N, chunk: 4, kvCache });
        expect(dec.kvType).toBe(kvCache);
        const all: Float32Array[] = [];
        const ids: number[] = [];
        let { logits } = await dec.prefill(prompt);
        for (let i = 0; i < N; i++) {
          all.push(logits);
          ids.push(argmax(logits));
          if (i + 1 < N) logits = await dec.step(ids[i]);
        }
        dec.destroy();
        return { all, ids };
      };
      const a = await run('f32');
      const b = await run('f16');
      expect(b.ids).toEqual(a.ids);
      expect(new Set(a.ids).size).toBeGreaterThan(3);
      const worst = Math.max(...a.all.map((l, i) => relErr(b.all[i], l)));
      console.log(`[decoder] ${arch}: f16 KV cache vs f32, worst logits error ${worst.toExponential(2)} over ${N} tokens`);
      expect(worst).toBeLessThan(F16_KV_TOL);
      memory.destroyAll();
    });

  it('generateTokens draws on the GPU what the CPU sampler draws from the whole logits, reading back a few bytes', async () => {
    const { device } = await testDevice();
    const config = tinyConfig('qwen2');
    const { tensors } = tinyModel(config, 11);
    const memory = new GpuMemory(device);
    const model = await uploadModel(memory, config, async (n) => tensors.get(n)!);
    const dec = new Decoder(memory, model, { contextLength: 64 });
    const M = 12;
    const cases: SamplingParams[] = [
      { temperature: 0, topK: 0, topP: 1 },
      { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1.5 },
      { temperature: 0.8, topK: 5, topP: 0.9, repetitionPenalty: 1.2 },
      { temperature: 1.2, topK: 0, topP: 0.8 },
      { temperature: 1, topK: 0, topP: 0.95, repetitionPenalty: 1.3 },
      { temperature: 1, topK: 0, topP: 1 }, // plain temperature: the whole logits by design
    ];
    for (const p of cases) {
      dec.reset();
      const got = await generateTokens(dec, prompt, { ...p, seed: 5, maxTokens: M, stopTokens: [] });
      // The reference: whole logits, penalty and draw on the CPU.
      dec.reset();
      const rng = new Rng(5);
      const want: number[] = [];
      let { logits } = await dec.prefill(prompt);
      for (;;) {
        applyRepetitionPenalty(logits, penaltyTokens([...prompt, ...want]), p.repetitionPenalty ?? 1);
        want.push(sampleToken(logits, p, rng));
        if (want.length === M) break;
        logits = await dec.step(want[want.length - 1]);
      }
      expect(got.tokens, JSON.stringify(p)).toEqual(want);
      const perToken = got.bytesReadBack / M;
      console.log(`[decoder] ${JSON.stringify(p)}: ${perToken} bytes read back per token (whole logits: ${config.vocabSize * 4})`);
      // (id, logit) pairs of a power-of-two list ≥ k, plus the softmax total for top-p alone.
      const plan = candidatePlan(p, config.vocabSize);
      expect(perToken).toBe(plan ? listSize(plan.k) * 8 + (plan.total ? 4 : 0) : config.vocabSize * 4);
    }
    memory.destroyAll();
  });

  it('reuses the cached prefix of a new prompt and gives the logits of a fresh prefill', async () => {
    const { device } = await testDevice();
    const config = tinyConfig('qwen2');
    const { tensors } = tinyModel(config, 9);
    const memory = new GpuMemory(device);
    const model = await uploadModel(memory, config, async (n) => tensors.get(n)!);
    const warm = new Decoder(memory, model, { contextLength: 64, chunk: 8 });
    await generateTokens(warm, prompt, { maxTokens: 5, temperature: 0, topK: 0, topP: 1, stopTokens: [] });
    const next = [...prompt.slice(0, 8), 3, 3, 12, 20];
    const a = await warm.prefill(next);
    expect(a.reused).toBe(8);
    const fresh = new Decoder(memory, model, { contextLength: 64, chunk: 8 });
    const b = await fresh.prefill(next);
    expect(b.reused).toBe(0);
    expect(relErr(a.logits, b.logits)).toBeLessThan(1e-5);
    // The same prompt again reuses all but its last token.
    expect((await warm.prefill(next)).reused).toBe(next.length - 1);
    memory.destroyAll();
  });

  it('stops at a stop token, at the budget, and when cancelled between tokens', async () => {
    const { device } = await testDevice();
    const config = tinyConfig('llama');
    const { tensors } = tinyModel(config, 10);
    const memory = new GpuMemory(device);
    const model = await uploadModel(memory, config, async (n) => tensors.get(n)!);
    const dec = new Decoder(memory, model, { contextLength: 64 });
    const greedy = { temperature: 0, topK: 0, topP: 1 };
    const free = await generateTokens(dec, prompt, { ...greedy, maxTokens: 6, stopTokens: [] });
    expect(free.finishReason).toBe('length');
    expect(free.tokens).toHaveLength(6);
    const stopped = await generateTokens(dec, prompt, { ...greedy, maxTokens: 6, stopTokens: [free.tokens[2]] });
    expect(stopped.finishReason).toBe('stop');
    expect(stopped.tokens).toEqual(free.tokens.slice(0, free.tokens.indexOf(free.tokens[2])));
    const ctl = new AbortController();
    const cancelled = await generateTokens(
      dec,
      prompt,
      { ...greedy, maxTokens: 20, stopTokens: [] },
      { signal: ctl.signal, onToken: () => void (dec.cachedTokens.length > prompt.length && ctl.abort()) },
    );
    expect(cancelled.finishReason).toBe('cancelled');
    expect(cancelled.tokens.length).toBeLessThan(4);
    // Sampling with a seed repeats; top-k 1 is greedy.
    const s1 = await generateTokens(dec, prompt, { temperature: 0.8, topK: 5, topP: 0.9, seed: 3, maxTokens: 8, stopTokens: [] });
    const s2 = await generateTokens(dec, prompt, { temperature: 0.8, topK: 5, topP: 0.9, seed: 3, maxTokens: 8, stopTokens: [] });
    expect(s1.tokens).toEqual(s2.tokens);
    // A deadline (0 ms) stops after the first token once armed, and never before.
    const armed = await generateTokens(
      dec,
      prompt,
      { ...greedy, maxTokens: 6, stopTokens: [], deadlineMs: 0 },
      { deadlineArmed: () => true },
    );
    expect(armed).toMatchObject({ finishReason: 'deadline', tokens: free.tokens.slice(0, 1) });
    const unarmed = await generateTokens(
      dec,
      prompt,
      { ...greedy, maxTokens: 6, stopTokens: [], deadlineMs: 0 },
      { deadlineArmed: () => false },
    );
    expect(unarmed).toMatchObject({ finishReason: 'length', tokens: free.tokens });
    const k1 = await generateTokens(dec, prompt, { temperature: 1, topK: 1, topP: 1, maxTokens: 6, stopTokens: [] });
    expect(k1.tokens).toEqual(free.tokens);
    memory.destroyAll();
  });
});
