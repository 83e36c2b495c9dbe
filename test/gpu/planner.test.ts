// The memory planner equals what the engine really allocates, byte for byte.
import { describe, expect, it } from 'vitest';
import { planMemory, largestSeqLen } from '../../src/gpu/planner.ts';
import { uploadModel } from '../../src/gpu/model.ts';
import { GpuLora, initHostAdapter } from '../../src/gpu/lora.ts';
import { GpuMemory } from '../../src/gpu/memory.ts';
import { Transformer } from '../../src/gpu/transformer.ts';
import { LoraTrainer } from '../../src/gpu/trainer.ts';
import { LORA_TARGETS, type LoraTarget } from '../../src/model/types.ts';
import { gpuSkipReason, skipNote, testDevice, testRunner } from '../helpers/gpu.ts';
import { tinyConfig, tinyModel } from '../helpers/tiny.ts';

describe.skipIf(!!gpuSkipReason)(`memory planner${skipNote}`, () => {
  for (const [arch, training, targets, chunk, lowMemory] of [
    ['qwen2', true, [...LORA_TARGETS], undefined, false],
    ['llama', true, ['q_proj', 'v_proj'], 300, false],
    ['llama', false, ['q_proj', 'down_proj'], undefined, false],
    ['qwen2', true, [...LORA_TARGETS], undefined, true],
  ] as const) {
    const name = `${arch}, ${training ? 'training' : 'inference'}, ${targets.length} targets${chunk ? ', chunked' : ''}${lowMemory ? ', low memory' : ''}`;
    it(`${name}: plan = allocation`, async () => {
      const { device } = await testDevice();
      const runner = await testRunner();
      const config = tinyConfig(arch, { numLayers: 5 });
      const { tensors } = tinyModel(config, 1);
      const memory = new GpuMemory(device);
      const maxChunkBytes = chunk ?? device.limits.maxStorageBufferBindingSize;
      const model = await uploadModel(memory, config, async (n) => tensors.get(n)!, { maxChunkBytes });
      const lora = { r: 4, alpha: 8, dropout: 0, targets: [...targets] as LoraTarget[] };
      const adapter = new GpuLora(memory, lora, initHostAdapter(config, lora, 1), { trainable: training });
      const tf = new Transformer(runner, memory, model, adapter, { seqLen: 24, lowMemory });
      if (training) new LoraTrainer(runner, memory, tf, adapter);
      const plan = planMemory({ config, seqLen: 24, lora, training, lowMemory }, maxChunkBytes);
      const real = memory.report();
      expect({ ...plan, largestBuffer: 0 }).toEqual({ ...real, largestBuffer: 0 });
      memory.destroyAll();
    });
  }
});

describe('largest sequence length', () => {
  it('is the longest that fits the budget', () => {
    const config = tinyConfig('qwen2', { maxPositionEmbeddings: 4096 });
    const p = { config, lora: { r: 8, targets: [...LORA_TARGETS] }, training: true };
    const budget = planMemory({ ...p, seqLen: 1000 }).total;
    const n = largestSeqLen(p, budget);
    expect(n).toBeGreaterThanOrEqual(1000);
    expect(planMemory({ ...p, seqLen: n }).total).toBeLessThanOrEqual(budget);
    expect(planMemory({ ...p, seqLen: n + 1 }).total).toBeGreaterThan(budget);
  });
});
