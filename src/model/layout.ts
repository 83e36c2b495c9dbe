// The tensors a Llama-family checkpoint holds, by HF name and shape.
import type { LoraTarget, ModelConfig } from './types.ts';

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

/** Elements of a tensor of this shape. */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Parameters of the base model (a tied LM head counted once, as the embedding). */
export function parameterCount(c: ModelConfig): number {
  return expectedTensors(c).reduce((n, t) => n + elementCount(t.shape), 0);
}

/** [in, out] of each target module for a config. */
export function moduleShape(config: ModelConfig, target: LoraTarget): { inF: number; outF: number } {
  const H = config.hiddenSize;
  const q = config.numHeads * config.headDim;
  const kv = config.numKvHeads * config.headDim;
  const I = config.intermediateSize;
  switch (target) {
    case 'q_proj':
      return { inF: H, outF: q };
    case 'k_proj':
    case 'v_proj':
      return { inF: H, outF: kv };
    case 'o_proj':
      return { inF: q, outF: H };
    case 'gate_proj':
    case 'up_proj':
      return { inF: H, outF: I };
    case 'down_proj':
      return { inF: I, outF: H };
  }
}
