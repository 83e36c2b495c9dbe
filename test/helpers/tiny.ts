// Tiny in-memory models for engine tests: a config, its random 16-bit weights, and the
// float64 reference weights made from exactly those rounded values.
import type { ModelConfig, LoraTarget, HostTensor } from '../../src/model/types.ts';
import { randomTensors } from '../../src/model/fixtures/random-weights.ts';
import { bf16ToFloat, f16ToFloat } from '../../src/model/dtype.ts';
import { refWeightsFromTensors, type RefLora, type RefWeights } from '../../src/gpu/reference/transformer.ts';
import type { HostAdapter } from '../../src/gpu/lora.ts';
import { targetShape } from '../../src/gpu/lora.ts';
import { Rng } from '../../src/random.ts';

export function tinyConfig(arch: 'llama' | 'qwen2', over: Partial<ModelConfig> = {}): ModelConfig {
  return {
    architecture: arch === 'llama' ? 'LlamaForCausalLM' : 'Qwen2ForCausalLM',
    modelType: arch,
    vocabSize: 37,
    hiddenSize: 16,
    intermediateSize: 24,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 4,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    maxPositionEmbeddings: 128,
    tieWordEmbeddings: arch === 'qwen2',
    attentionBias: arch === 'qwen2',
    torchDtype: 'bfloat16',
    ...over,
  };
}

export function tinyModel(config: ModelConfig, seed = 1): { tensors: Map<string, HostTensor>; ref: RefWeights } {
  const tensors = randomTensors(config, seed);
  const ref = refWeightsFromTensors(config, (name) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`missing ${name}`);
    return Float64Array.from(t.data, t.dtype === 'bf16' ? bf16ToFloat : f16ToFloat);
  });
  return { tensors, ref };
}

/** A LoRA adapter with random non-zero A and B (f32-exact), host and reference forms. */
export function randomAdapter(config: ModelConfig, r: number, targets: LoraTarget[], seed: number, scaleB = 0.2): HostAdapter {
  const rng = new Rng(seed);
  const layers: HostAdapter = [];
  for (let l = 0; l < config.numLayers; l++) {
    const layer: HostAdapter[number] = {};
    for (const t of targets) {
      const { inF, outF } = targetShape(config, t);
      const A = new Float32Array(r * inF).map(() => rng.normal() * 0.3);
      const B = new Float32Array(outF * r).map(() => rng.normal() * scaleB);
      layer[t] = { A, B, inF, outF };
    }
    layers.push(layer);
  }
  return layers;
}

export function refLora(host: HostAdapter, r: number, alpha: number): RefLora {
  return {
    r,
    scale: alpha / r,
    layers: host.map((layer) => {
      const out: RefLora['layers'][number] = {};
      for (const [t, p] of Object.entries(layer) as Array<[LoraTarget, { A: Float32Array; B: Float32Array }]>)
        out[t] = { A: Float64Array.from(p.A), B: Float64Array.from(p.B) };
      return out;
    }),
  };
}
