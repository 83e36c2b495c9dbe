// The whole GPU transformer against the float64 reference on tiny random llama and qwen2
// models (bf16 weights; the reference uses the same rounded values): logits and losses
// within 1e-4 relative, LoRA gradients within 1e-3 relative — f32 accumulates rounding
// through two layers of norms, attention and the softmax, a few 1e-6 per op.
// Every check also runs with the weight chunk limit forced small (several chunks per matrix).
import { describe, expect, it } from 'vitest';
import { refBackward, refForward } from '../../src/gpu/reference/transformer.ts';
import { uploadModel } from '../../src/gpu/model.ts';
import { GpuLora } from '../../src/gpu/lora.ts';
import { GpuMemory } from '../../src/gpu/memory.ts';
import { Transformer } from '../../src/gpu/transformer.ts';
import { KernelRunner } from '../../src/gpu/kernel.ts';
import { attentionShape } from '../../src/gpu/kernels/attention-versions.ts';
import { LORA_TARGETS, type LoraTarget } from '../../src/model/types.ts';
import { gpuSkipReason, readF64, skipNote, testDevice, testRunner } from '../helpers/gpu.ts';
import { relErr } from '../helpers/numeric.ts';
import { randomAdapter, refLora, tinyConfig, tinyModel } from '../helpers/tiny.ts';

const ids = [1, 5, 9, 2, 30, 7, 7, 0, 36, 11, 4];

describe.skipIf(!!gpuSkipReason)(`GPU transformer vs float64 reference${skipNote}`, () => {
  const cases = [
    ...(['llama', 'qwen2'] as const).flatMap((arch) =>
      [undefined, 200].map((maxChunkBytes) => ({ arch, maxChunkBytes, lowMemory: false, over: {} })),
    ),
    // The FlashAttention-2 kernels inside the whole model (GQA 2, 16 tokens), picked as a tuner would.
    { arch: 'qwen2' as const, maxChunkBytes: undefined, lowMemory: false, over: {}, attention: 'flash' as const },
    // DeepSeek-Coder style (linear RoPE scaling), and low memory mode with a partial last segment (5 layers, stride 3).
    { arch: 'llama' as const, maxChunkBytes: undefined, lowMemory: true, over: { numLayers: 5, ropeTheta: 100000, ropeLinearFactor: 4 } },
  ];
  for (const { arch, maxChunkBytes, lowMemory, over, ...rest } of cases) {
    const attention = 'attention' in rest ? rest.attention : undefined;
    const extra = `${lowMemory ? ', low memory' : ''}${'ropeLinearFactor' in over ? ', linear RoPE scaling' : ''}${attention ? `, ${attention} attention` : ''}`;
    it(`${arch}, ${maxChunkBytes ? `chunks of ${maxChunkBytes} bytes` : 'whole tensors'}${extra}: logits, losses and LoRA gradients`, async () => {
      const { device } = await testDevice();
      const config = tinyConfig(arch, over);
      const runner = attention ? new KernelRunner(device) : await testRunner();
      if (attention) {
        const shape = attentionShape({ T: ids.length, nHeads: config.numHeads, nKv: config.numKvHeads, headDim: config.headDim });
        runner.kernels.setPick('attention', shape, `attention.${attention}`);
      }
      const { tensors, ref } = tinyModel(config, 11);
      const memory = new GpuMemory(device);
      const model = await uploadModel(memory, config, async (n) => tensors.get(n)!, { maxChunkBytes });
      if (maxChunkBytes) expect(model.embed.chunks.length).toBeGreaterThan(3);
      const r = 2;
      const alpha = 4;
      const host = randomAdapter(config, r, [...LORA_TARGETS], 21);
      const adapter = new GpuLora(memory, { r, alpha, dropout: 0, targets: [...LORA_TARGETS] }, host, { trainable: true });
      const tf = new Transformer(runner, memory, model, adapter, { seqLen: 16, lowMemory });
      const counted = tf.setBatch(ids);
      expect(counted).toBe(ids.length - 1);
      const logits = memory.buffer('scratch', ids.length * config.vocabSize * 4);
      await runner.run((pass) => {
        tf.recordForward(pass, { gradScale: 1 / counted });
        tf.recordLogits(pass, logits);
        tf.recordBackward(pass);
      });
      if (attention) expect([...runner.kernels.used.keys()].filter((n) => n.startsWith('attention'))).toEqual([`attention.${attention}`]);
      const lora = refLora(host, r, alpha);
      const want = refForward(ref, lora, ids, undefined, { logits: true });
      expect(relErr(await readF64(logits, ids.length * config.vocabSize), want.logits!)).toBeLessThan(1e-4);
      expect(relErr(await readF64(tf.tokenLosses, ids.length), want.losses)).toBeLessThan(1e-4);
      const loss = (await readF64(tf.loss, 1))[0];
      expect(Math.abs(loss - want.loss) / want.loss).toBeLessThan(1e-4);

      const { grads } = refBackward(ref, lora, ids);
      const got = await adapter.gradsToHost();
      for (let l = 0; l < config.numLayers; l++)
        for (const t of LORA_TARGETS as readonly LoraTarget[]) {
          expect(relErr(got[l][t]!.dA, grads[l][t]!.dA), `layer ${l} ${t} dA`).toBeLessThan(1e-3);
          expect(relErr(got[l][t]!.dB, grads[l][t]!.dB), `layer ${l} ${t} dB`).toBeLessThan(1e-3);
        }
      memory.destroyAll();
    });
  }

  it('without an adapter the loss is the base model’s; masked targets are not counted', async () => {
    const { device } = await testDevice();
    const runner = await testRunner();
    const config = tinyConfig('llama', { numLayers: 1 });
    const { tensors, ref } = tinyModel(config, 12);
    const memory = new GpuMemory(device);
    const model = await uploadModel(memory, config, async (n) => tensors.get(n)!);
    const tf = new Transformer(runner, memory, model, undefined, { seqLen: 8 });
    const targets = [5, -1, 9, -1, 2, -1];
    tf.setBatch([1, 2, 3, 4, 5, 6], targets);
    await runner.run((pass) => tf.recordForward(pass));
    const want = refForward(ref, undefined, [1, 2, 3, 4, 5, 6], targets);
    expect(want.count).toBe(3);
    expect(Math.abs((await readF64(tf.loss, 1))[0] - want.loss) / want.loss).toBeLessThan(1e-4);
    const mem = memory.report();
    expect(mem.weights).toBeGreaterThan(0);
    expect(mem.total).toBe(mem.weights + mem.lora + mem.optimizer + mem.activations + mem.scratch);
    memory.destroyAll();
  });
});
