// A 20-step LoRA training run gives the same losses with either attention version
// (simple, flash), chosen through the kernel selection as the engine chooses it (a forced
// family: `--kernels tiled` takes flash): same model, adapter init, text and optimizer. The kernels differ only in
// f32 summation order (≤ 1e-6 relative per op, test/gpu/attention.test.ts); 20 AdamW steps
// carry that into the loss at a few 1e-6 (measured on lavapipe: 4.7e-6), so 1e-4 leaves
// room for other adapters' rounding while still far below what a wrong kernel would give.
// 40 tokens: the flash kernels cross a 32-row K/V and query block edge.
import { describe, expect, it } from 'vitest';
import { uploadModel } from '../../src/gpu/model.ts';
import { GpuLora, initHostAdapter } from '../../src/gpu/lora.ts';
import { GpuMemory } from '../../src/gpu/memory.ts';
import { Transformer } from '../../src/gpu/transformer.ts';
import { KernelRunner } from '../../src/gpu/kernel.ts';
import type { KernelFamily } from '../../src/gpu/kernel-versions.ts';
import { ATTENTION_VERSIONS, attentionShape } from '../../src/gpu/kernels/attention-versions.ts';
import { LoraTrainer, DEFAULT_OPTIMIZER } from '../../src/gpu/trainer.ts';
import { LORA_TARGETS } from '../../src/model/types.ts';
import { gpuSkipReason, skipNote, testDevice } from '../helpers/gpu.ts';
import { tinyConfig, tinyModel } from '../helpers/tiny.ts';

const STEPS = 20;
const TOL = 1e-4;

/** Trains with the attention version of `family` (the linear versions stay register: only attention differs). */
async function run(family: KernelFamily): Promise<number[]> {
  const { device } = await testDevice();
  const runner = new KernelRunner(device);
  const config = tinyConfig('qwen2', { numLayers: 2 });
  const version = ATTENTION_VERSIONS.find((v) => v.family === family)!;
  const heads = { nHeads: config.numHeads, nKv: config.numKvHeads, headDim: config.headDim };
  for (const T of [40, 23]) runner.kernels.setPick('attention', attentionShape({ T, ...heads }), version.name);
  const { tensors } = tinyModel(config, 33);
  const memory = new GpuMemory(device);
  const model = await uploadModel(memory, config, async (n) => tensors.get(n)!);
  const lc = { r: 4, alpha: 8, dropout: 0.1, targets: [...LORA_TARGETS] };
  const adapter = new GpuLora(memory, lc, initHostAdapter(config, lc, 1), { trainable: true });
  const tf = new Transformer(runner, memory, model, adapter, { seqLen: 40 });
  const trainer = new LoraTrainer(runner, memory, tf, adapter);
  const ids = Array.from({ length: 40 }, (_, i) => (i * 7 + (i >> 2)) % config.vocabSize);
  const losses: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    const batch = [{ ids }, { ids: ids.slice(0, 23) }];
    losses.push((await trainer.trainStep(batch, { ...DEFAULT_OPTIMIZER, lr: 0.02 })).loss);
  }
  memory.destroyAll();
  expect([...runner.kernels.used.keys()].filter((n) => n.startsWith('attention'))).toEqual([version.name]);
  return losses;
}

describe.skipIf(!!gpuSkipReason)(`training with each attention version${skipNote}`, () => {
  it(`${STEPS} steps: flash gives the simple version's losses within ${TOL} relative`, async () => {
    const simple = await run('register');
    const flash = await run('tiled');
    const worst = Math.max(...simple.map((l, i) => Math.abs(flash[i] - l) / l));
    console.log(
      `[attention training] losses ${simple[0].toFixed(5)} → ${simple[STEPS - 1].toFixed(5)}; worst relative difference ${worst.toExponential(1)}`,
    );
    expect(worst).toBeLessThan(TOL);
    expect(simple[STEPS - 1]).toBeLessThan(simple[0] * 0.9);
  });
});
