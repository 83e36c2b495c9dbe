// A 20-step LoRA training run gives the same losses with either attention version
// (simple, flash): same model, adapter init, text and optimizer. The kernels differ only in
// f32 summation order (≤ 1e-6 relative per op, test/gpu/attention.test.ts); 20 AdamW steps
// carry that into the loss at a few 1e-6 (measured on lavapipe: 4.7e-6), so 1e-4 leaves
// room for other adapters' rounding while still far below what a wrong kernel would give.
// 40 tokens: the flash kernels cross a 32-row K/V and query block edge.
import { describe, expect, it } from 'vitest';
import { uploadModel } from '../../src/gpu/model.ts';
import { GpuLora, initHostAdapter } from '../../src/gpu/lora.ts';
import { GpuMemory } from '../../src/gpu/memory.ts';
import { Transformer, type AttentionVersion } from '../../src/gpu/transformer.ts';
import { LoraTrainer, DEFAULT_OPTIMIZER } from '../../src/gpu/trainer.ts';
import { LORA_TARGETS } from '../../src/model/types.ts';
import { gpuSkipReason, skipNote, testDevice, testRunner } from '../helpers/gpu.ts';
import { tinyConfig, tinyModel } from '../helpers/tiny.ts';

const STEPS = 20;
const TOL = 1e-4;

async function run(attention: AttentionVersion): Promise<number[]> {
  const { device } = await testDevice();
  const runner = await testRunner();
  const config = tinyConfig('qwen2', { numLayers: 2 });
  const { tensors } = tinyModel(config, 33);
  const memory = new GpuMemory(device);
  const model = await uploadModel(memory, config, async (n) => tensors.get(n)!);
  const lc = { r: 4, alpha: 8, dropout: 0.1, targets: [...LORA_TARGETS] };
  const adapter = new GpuLora(memory, lc, initHostAdapter(config, lc, 1), { trainable: true });
  const tf = new Transformer(runner, memory, model, adapter, { seqLen: 40, attention });
  const trainer = new LoraTrainer(runner, memory, tf, adapter);
  const ids = Array.from({ length: 40 }, (_, i) => (i * 7 + (i >> 2)) % config.vocabSize);
  const losses: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    const batch = [{ ids }, { ids: ids.slice(0, 23) }];
    losses.push((await trainer.trainStep(batch, { ...DEFAULT_OPTIMIZER, lr: 0.02 })).loss);
  }
  memory.destroyAll();
  return losses;
}

describe.skipIf(!!gpuSkipReason)(`training with each attention version${skipNote}`, () => {
  it(`${STEPS} steps: flash gives the simple version's losses within ${TOL} relative`, async () => {
    const simple = await run('simple');
    const flash = await run('flash');
    const worst = Math.max(...simple.map((l, i) => Math.abs(flash[i] - l) / l));
    console.log(
      `[attention training] losses ${simple[0].toFixed(5)} → ${simple[STEPS - 1].toFixed(5)}; worst relative difference ${worst.toExponential(1)}`,
    );
    expect(worst).toBeLessThan(TOL);
    expect(simple[STEPS - 1]).toBeLessThan(simple[0] * 0.9);
  });
});
