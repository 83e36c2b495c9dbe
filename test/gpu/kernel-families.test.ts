// The whole engine with each kernel family forced (--kernels): a 20-step LoRA training run
// gives the same losses as with the register versions, and decoding gives the same logits.
// The model's sizes divide by 8, so the tiled and subgroup versions take every projection;
// `tiled` also runs training attention as FlashAttention-2 (f32, within the same 1e-4),
// `tiled-f16` its f16-math version (attention.flash-f16).
// Tolerances on each step's loss (≈ 6.6 nats here), and 10× that on the logits:
// - tiled, subgroup: 1e-4 absolute. They sum in f32 (on lavapipe the tiled GEMM even gives
//   bit-identical losses); other f32 summation orders stay near 1e-6 over 20 steps.
// - tiled-f16: 2e-2 absolute. Each projection's inputs are rounded to f16 (≈ 4e-4 relative
//   error per output, kernel test): 5e-4 on the first step's loss. AdamW then amplifies it
//   (a gradient near zero whose sign flips moves a parameter by a full learning rate), so
//   the gap wanders to a few 1e-3 over 20 steps at lr 3e-3 (measured 3.4e-3 with f32
//   attention; 5.7e-3, logits 6.4e-2, now that tiled-f16 also runs attention.flash-f16, whose
//   f16 q/k/v/dout add ≈ 1e-3 relative per attention output; at lr 1e-2 it reaches 7e-2,
//   which is why this run uses 3e-3). A wrong kernel (a lost tile, a transposed weight)
//   moves the loss by more than 0.1 on the first step.
import { describe, expect, it } from 'vitest';
import { uploadModel } from '../../src/gpu/model.ts';
import { GpuLora } from '../../src/gpu/lora.ts';
import { GpuMemory } from '../../src/gpu/memory.ts';
import { Transformer } from '../../src/gpu/transformer.ts';
import { LoraTrainer, DEFAULT_OPTIMIZER } from '../../src/gpu/trainer.ts';
import { Decoder } from '../../src/gpu/decoder.ts';
import { KernelRunner } from '../../src/gpu/kernel.ts';
import { KERNEL_FAMILIES, type KernelFamily } from '../../src/gpu/kernel-versions.ts';
import { LORA_TARGETS } from '../../src/model/types.ts';
import { gpuSkipReason, skipNote, testDevice } from '../helpers/gpu.ts';
import { randomAdapter, tinyConfig, tinyModel } from '../helpers/tiny.ts';
import { Rng } from '../../src/random.ts';

const TOLERANCE: Record<KernelFamily, number> = { register: 0, tiled: 1e-4, subgroup: 1e-4, 'tiled-f16': 2e-2 };
const STEPS = 20;

describe.skipIf(!!gpuSkipReason)(`every kernel family trains and decodes alike${skipNote}`, () => {
  const config = tinyConfig('qwen2', { hiddenSize: 64, intermediateSize: 128, numHeads: 4, numKvHeads: 2, headDim: 16, vocabSize: 96 });
  const { tensors } = tinyModel(config, 5);
  const lora = { r: 4, alpha: 8, dropout: 0.1, targets: [...LORA_TARGETS] };
  const host = randomAdapter(config, lora.r, lora.targets, 9, 0.02);
  const rng = new Rng(3);
  const batches = Array.from({ length: STEPS }, () => [
    { ids: Array.from({ length: 40 }, () => Math.floor(rng.next() * config.vocabSize)) },
    { ids: Array.from({ length: 29 }, () => Math.floor(rng.next() * config.vocabSize)) },
  ]);

  async function run(family: KernelFamily) {
    const { device } = await testDevice();
    const memory = new GpuMemory(device);
    const runner = new KernelRunner(device);
    if (!KERNEL_FAMILIES.includes(family)) throw new Error(family);
    runner.kernels.forced = family;
    const model = await uploadModel(memory, config, async (n) => tensors.get(n)!);
    const adapter = new GpuLora(memory, lora, host, { trainable: true });
    const tf = new Transformer(runner, memory, model, adapter, { seqLen: 48 });
    const trainer = new LoraTrainer(runner, memory, tf, adapter, 11);
    const losses: number[] = [];
    for (const b of batches) losses.push((await trainer.trainStep(b, { ...DEFAULT_OPTIMIZER, lr: 3e-3 })).loss);
    const decoder = new Decoder(memory, model, { contextLength: 32, kernels: runner.kernels });
    decoder.setAdapter(adapter);
    const logits = [(await decoder.prefill([5, 17, 33, 2])).logits];
    for (const id of [8, 40, 77]) logits.push(await decoder.step(id));
    decoder.destroy();
    memory.destroyAll();
    return { losses, logits, used: runner.kernels.used };
  }

  it(`${STEPS} training steps and 4 decoded tokens with every family forced`, async () => {
    const { device } = await testDevice();
    const base = await run('register');
    expect(base.losses.at(-1)!).toBeLessThan(base.losses[0] - 0.05); // it trains
    console.log(`[gpu tests] --kernels register: loss ${base.losses[0].toFixed(4)} → ${base.losses.at(-1)!.toFixed(4)}`);
    for (const family of KERNEL_FAMILIES.slice(1)) {
      if (family === 'tiled-f16' && !device.features.has('shader-f16')) continue;
      if (family === 'subgroup' && !device.features.has('subgroups')) continue;
      const got = await run(family);
      // The family's versions ran, for every call of the ops it has.
      const names = [...got.used.keys()];
      expect(names.some((n) => n.endsWith(`.${family}`))).toBe(true);
      if (family !== 'subgroup') expect(names.filter((n) => n.startsWith('linear')).every((n) => n.endsWith(`.${family}`))).toBe(true);
      else expect(names.filter((n) => n.startsWith('gemv'))).toEqual(['gemv.subgroup']);
      // Training attention: `tiled` takes FlashAttention-2, `tiled-f16` its f16-math twin, `subgroup` the simple version.
      const attention = {
        register: 'attention.simple',
        tiled: 'attention.flash',
        'tiled-f16': 'attention.flash-f16',
        subgroup: 'attention.simple',
      };
      expect(names.filter((n) => n.startsWith('attention.'))).toEqual([attention[family]]);
      // Decoding's cached attention: `subgroup` takes its subgroup version, the others the shared one.
      expect(names.filter((n) => n.startsWith('attention-cached.'))).toEqual([
        family === 'subgroup' ? 'attention-cached.subgroup' : 'attention-cached.shared',
      ]);
      const dLoss = Math.max(...got.losses.map((l, i) => Math.abs(l - base.losses[i])));
      let dLogit = 0;
      for (const [t, row] of got.logits.entries())
        for (const [i, v] of row.entries()) dLogit = Math.max(dLogit, Math.abs(v - base.logits[t][i]));
      console.log(
        `[gpu tests] --kernels ${family}: max |Δ loss| over ${STEPS} steps ${dLoss.toExponential(2)}, max |Δ logit| ${dLogit.toExponential(2)}`,
      );
      expect(dLoss).toBeLessThanOrEqual(TOLERANCE[family]);
      expect(dLogit).toBeLessThanOrEqual(TOLERANCE[family] * 10);
    }
  }, 300_000); // four families × 20 steps on a software adapter
});
