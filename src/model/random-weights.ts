// Deterministic random weights for a config, in the HF tensor layout: the fixture
// generator's weights and the tests' tiny models. Scales keep activations O(1), so
// logits are far from uniform and gradients are informative.
import type { HostTensor, ModelConfig, WeightDtype } from './types.ts';
import { Rng } from '../random.ts';
import { floatToBf16, floatToF16 } from './dtype.ts';

export interface TensorSpec {
  name: string;
  shape: number[];
  /** 'norm' weights are 1 ± noise; 'bias' and 'matrix' are zero-mean. */
  kind: 'matrix' | 'norm' | 'bias';
}

/** Every tensor a model of this config has, with its HF name and shape. */
export function expectedTensors(c: ModelConfig): TensorSpec[] {
  const H = c.hiddenSize;
  const qd = c.numHeads * c.headDim;
  const kvd = c.numKvHeads * c.headDim;
  const out: TensorSpec[] = [{ name: 'model.embed_tokens.weight', shape: [c.vocabSize, H], kind: 'matrix' }];
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}`;
    out.push({ name: `${p}.input_layernorm.weight`, shape: [H], kind: 'norm' });
    out.push({ name: `${p}.self_attn.q_proj.weight`, shape: [qd, H], kind: 'matrix' });
    out.push({ name: `${p}.self_attn.k_proj.weight`, shape: [kvd, H], kind: 'matrix' });
    out.push({ name: `${p}.self_attn.v_proj.weight`, shape: [kvd, H], kind: 'matrix' });
    if (c.attentionBias) {
      out.push({ name: `${p}.self_attn.q_proj.bias`, shape: [qd], kind: 'bias' });
      out.push({ name: `${p}.self_attn.k_proj.bias`, shape: [kvd], kind: 'bias' });
      out.push({ name: `${p}.self_attn.v_proj.bias`, shape: [kvd], kind: 'bias' });
    }
    out.push({ name: `${p}.self_attn.o_proj.weight`, shape: [H, qd], kind: 'matrix' });
    out.push({ name: `${p}.post_attention_layernorm.weight`, shape: [H], kind: 'norm' });
    out.push({ name: `${p}.mlp.gate_proj.weight`, shape: [c.intermediateSize, H], kind: 'matrix' });
    out.push({ name: `${p}.mlp.up_proj.weight`, shape: [c.intermediateSize, H], kind: 'matrix' });
    out.push({ name: `${p}.mlp.down_proj.weight`, shape: [H, c.intermediateSize], kind: 'matrix' });
  }
  out.push({ name: 'model.norm.weight', shape: [H], kind: 'norm' });
  if (!c.tieWordEmbeddings) out.push({ name: 'lm_head.weight', shape: [c.vocabSize, H], kind: 'matrix' });
  return out;
}

export function randomTensors(c: ModelConfig, seed: number, dtype: WeightDtype = 'bf16'): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const round = dtype === 'bf16' ? floatToBf16 : floatToF16;
  const out = new Map<string, HostTensor>();
  for (const spec of expectedTensors(c)) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Uint16Array(n);
    // Embeddings/LM head: std 1 rows so logits spread; projections: std 1/√fan_in.
    const std = spec.kind === 'norm' ? 0.1 : spec.kind === 'bias' ? 0.1 : spec.name.includes('embed') || spec.name.startsWith('lm_head') ? 1 : 1 / Math.sqrt(spec.shape[1]);
    for (let i = 0; i < n; i++) data[i] = round((spec.kind === 'norm' ? 1 : 0) + std * rng.normal());
    out.set(spec.name, { name: spec.name, shape: spec.shape, dtype, data });
  }
  return out;
}
