// config.json → ModelConfig, for the Llama-family architectures the engine runs.
import { ModelError } from './errors.ts';
import { SUPPORTED_ARCHITECTURES, type Architecture, type ModelConfig } from './types.ts';

interface HfConfig {
  architectures?: string[];
  model_type?: string;
  vocab_size?: number;
  hidden_size?: number;
  intermediate_size?: number;
  num_hidden_layers?: number;
  num_attention_heads?: number;
  num_key_value_heads?: number;
  head_dim?: number;
  rms_norm_eps?: number;
  rope_theta?: number;
  rope_scaling?: { type?: string; rope_type?: string; factor?: number } | null;
  max_position_embeddings?: number;
  tie_word_embeddings?: boolean;
  attention_bias?: boolean;
  torch_dtype?: string;
  bos_token_id?: number;
  eos_token_id?: number | number[];
  hidden_act?: string;
}

export function parseConfig(raw: unknown, file = 'config.json'): ModelConfig {
  const c = (raw ?? {}) as HfConfig;
  const arch = c.architectures?.[0];
  if (!arch || !(SUPPORTED_ARCHITECTURES as readonly string[]).includes(arch)) {
    throw new ModelError(
      'UNSUPPORTED_ARCHITECTURE',
      `${file}: architecture ${arch ?? '(none given)'} is not supported. ` +
        `Homecoder runs ${SUPPORTED_ARCHITECTURES.join(', ')} models (Qwen2.5-Coder, DeepSeek-Coder, CodeLlama class).`,
      { file },
    );
  }
  const need = (key: keyof HfConfig): number => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      throw new ModelError('BAD_CONFIG', `${file}: "${key}" is missing or not a positive number.`, { file });
    return v;
  };
  const scaling = c.rope_scaling;
  const ropeType = scaling?.rope_type ?? scaling?.type;
  let ropeLinearFactor: number | undefined;
  if (scaling && ropeType === 'linear') {
    // DeepSeek-Coder and CodeLlama-style position interpolation: positions / factor.
    if (typeof scaling.factor !== 'number' || !(scaling.factor > 0))
      throw new ModelError('BAD_CONFIG', `${file}: rope_scaling "linear" needs a positive "factor".`, { file });
    ropeLinearFactor = scaling.factor;
  } else if (scaling && ropeType && ropeType !== 'default') {
    throw new ModelError(
      'BAD_CONFIG',
      `${file}: rope_scaling "${ropeType}" is not supported yet (only "linear" is); pick a model without it.`,
      { file },
    );
  }
  if (c.hidden_act && c.hidden_act !== 'silu')
    throw new ModelError('BAD_CONFIG', `${file}: hidden_act "${c.hidden_act}" is not supported (Llama-family models use silu).`, { file });
  const numHeads = need('num_attention_heads');
  const hiddenSize = need('hidden_size');
  const numKvHeads = c.num_key_value_heads ?? numHeads;
  const headDim = c.head_dim ?? hiddenSize / numHeads;
  if (!Number.isInteger(headDim) || headDim % 2)
    throw new ModelError('BAD_CONFIG', `${file}: head dimension ${headDim} must be an even integer.`, { file });
  if (numHeads % numKvHeads)
    throw new ModelError('BAD_CONFIG', `${file}: ${numHeads} attention heads are not a multiple of ${numKvHeads} key/value heads.`, {
      file,
    });
  const architecture = arch as Architecture;
  return {
    architecture,
    modelType: c.model_type ?? architecture.replace('ForCausalLM', '').toLowerCase(),
    vocabSize: need('vocab_size'),
    hiddenSize,
    intermediateSize: need('intermediate_size'),
    numLayers: need('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: c.rms_norm_eps ?? 1e-6,
    ropeTheta: c.rope_theta ?? 10000,
    ...(ropeLinearFactor !== undefined && ropeLinearFactor !== 1 ? { ropeLinearFactor } : {}),
    maxPositionEmbeddings: c.max_position_embeddings ?? 4096,
    tieWordEmbeddings: c.tie_word_embeddings ?? false,
    // Qwen2 always has q/k/v biases; Llama and Mistral only with attention_bias.
    attentionBias: architecture === 'Qwen2ForCausalLM' ? true : (c.attention_bias ?? false),
    torchDtype: c.torch_dtype ?? 'bfloat16',
    bosTokenId: c.bos_token_id,
    eosTokenId: c.eos_token_id,
  };
}

/** The HF config.json for a ModelConfig (used by the fixture generator). */
export function toHfConfig(c: ModelConfig): Record<string, unknown> {
  return {
    architectures: [c.architecture],
    model_type: c.modelType,
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    hidden_act: 'silu',
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    ...(c.ropeLinearFactor && c.ropeLinearFactor !== 1 ? { rope_scaling: { type: 'linear', factor: c.ropeLinearFactor } } : {}),
    max_position_embeddings: c.maxPositionEmbeddings,
    tie_word_embeddings: c.tieWordEmbeddings,
    ...(c.architecture === 'Qwen2ForCausalLM' ? {} : { attention_bias: c.attentionBias }),
    torch_dtype: c.torchDtype,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
  };
}
