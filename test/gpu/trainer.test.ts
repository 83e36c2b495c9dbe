// A training step (two micro-batches of gradient accumulation, clipping, AdamW) against
// the float64 reference doing the same arithmetic; then repeated steps drive the loss down.
import { describe, expect, it } from 'vitest';
import { refBackward } from '../../src/gpu/reference/transformer.ts';
import * as op from '../../src/gpu/reference/ops.ts';
import { uploadModel } from '../../src/gpu/model.ts';
import { GpuLora } from '../../src/gpu/lora.ts';
import { GpuMemory } from '../../src/gpu/memory.ts';
import { Transformer } from '../../src/gpu/transformer.ts';
import { LoraTrainer, DEFAULT_OPTIMIZER } from '../../src/gpu/trainer.ts';
import { LORA_TARGETS, type LoraTarget } from '../../src/model/types.ts';
import { gpuSkipReason, skipNote, testDevice, testRunner } from '../helpers/gpu.ts';
import { relErr } from '../helpers/numeric.ts';
import { randomAdapter, refLora, tinyConfig, tinyModel } from '../helpers/tiny.ts';

describe.skipIf(!!gpuSkipReason)(`LoRA trainer${skipNote}`, () => {
  it('one accumulated, clipped AdamW step matches the reference', async () => {
    const { device } = await testDevice();
    const runner = await testRunner();
    const config = tinyConfig('qwen2');
    const { tensors, ref } = tinyModel(config, 31);
    const memory = new GpuMemory(device);
    const model = await uploadModel(memory, config, async (n) => tensors.get(n)!);
    const [r, alpha] = [2, 4];
    const targets: LoraTarget[] = ['q_proj', 'v_proj', 'down_proj'];
    const host = randomAdapter(config, r, targets, 41);
    const adapter = new GpuLora(memory, { r, alpha, dropout: 0, targets }, host, { trainable: true });
    const tf = new Transformer(runner, memory, model, adapter, { seqLen: 12 });
    const trainer = new LoraTrainer(runner, memory, tf, adapter);
    const batch = [{ ids: [1, 2, 3, 4, 5, 6, 7] }, { ids: [9, 8, 7, 6, 5, 4, 3, 2, 1, 0] }];
    const opt = { ...DEFAULT_OPTIMIZER, lr: 0.05, weightDecay: 0.01, maxGradNorm: 0.5 };
    const res = await trainer.trainStep(batch, opt);

    // Reference: mean of the two micro-batch mean losses and gradients, clip, AdamW.
    const lora = refLora(host, r, alpha);
    const a = refBackward(ref, lora, batch[0].ids);
    const b = refBackward(ref, lora, batch[1].ids);
    expect(Math.abs(res.loss - (a.loss + b.loss) / 2)).toBeLessThan(1e-4 * res.loss);
    const flat: Float64Array[] = [];
    const grads = a.grads.map((layer, l) => {
      const out: Record<string, { dA: Float64Array; dB: Float64Array }> = {};
      for (const t of targets) {
        const dA = layer[t]!.dA.map((v, i) => (v + b.grads[l][t]!.dA[i]) / 2);
        const dB = layer[t]!.dB.map((v, i) => (v + b.grads[l][t]!.dB[i]) / 2);
        flat.push(dA, dB);
        out[t] = { dA, dB };
      }
      return out;
    });
    const norm = op.globalGradNorm(flat);
    expect(Math.abs(res.gradNorm - norm) / norm).toBeLessThan(1e-3);
    expect(norm).toBeGreaterThan(opt.maxGradNorm); // so clipping was exercised
    const c = op.clipScale(norm, opt.maxGradNorm);
    const got = await adapter.toHost();
    for (let l = 0; l < config.numLayers; l++)
      for (const t of targets) {
        for (const [which, g] of [
          ['A', grads[l][t].dA],
          ['B', grads[l][t].dB],
        ] as const) {
          const p = lora.layers[l][t]![which].slice();
          op.adamw(
            p,
            g.map((v) => v * c),
            new Float64Array(p.length),
            new Float64Array(p.length),
            1,
            opt,
          );
          expect(relErr(got[l][t]![which], p), `${l} ${t} ${which}`).toBeLessThan(1e-4);
        }
      }
    memory.destroyAll();
  });

  it('repeated steps on one text drive its loss down', async () => {
    const { device } = await testDevice();
    const runner = await testRunner();
    const config = tinyConfig('llama', { numLayers: 1 });
    const { tensors } = tinyModel(config, 32);
    const memory = new GpuMemory(device);
    const model = await uploadModel(memory, config, async (n) => tensors.get(n)!);
    const lc = { r: 4, alpha: 8, dropout: 0, targets: [...LORA_TARGETS] };
    const { initHostAdapter } = await import('../../src/gpu/lora.ts');
    const adapter = new GpuLora(memory, lc, initHostAdapter(config, lc, 1), { trainable: true });
    const tf = new Transformer(runner, memory, model, adapter, { seqLen: 16 });
    const trainer = new LoraTrainer(runner, memory, tf, adapter);
    const ids = [3, 14, 15, 9, 26, 5, 35, 8, 9, 7, 9, 3, 2, 3, 8, 4];
    const losses: number[] = [];
    for (let s = 0; s < 30; s++) losses.push((await trainer.trainStep([{ ids }], { ...DEFAULT_OPTIMIZER, lr: 0.02 })).loss);
    expect(losses[29]).toBeLessThan(losses[0] * 0.5);
    memory.destroyAll();
  });
});
