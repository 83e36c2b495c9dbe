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

/**
 * Largest value accepted for each size in config.json: several times the largest real
 * models (Llama 3.1 405B: 126 layers, hidden 16384, vocab 128256), yet small enough that
 * nothing is allocated from a hostile number (num_hidden_layers 1e8 ran Node out of heap).
 */
export const CONFIG_LIMITS = {
  vocab_size: 2 ** 21,
  hidden_size: 65536,
  intermediate_size: 262144,
  num_hidden_layers: 1024,
  num_attention_heads: 1024,
  num_key_value_heads: 1024,
  head_dim: 4096,
  max_position_embeddings: 2 ** 24,
} as const;

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
  const need = (key: keyof typeof CONFIG_LIMITS): number => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      throw new ModelError('BAD_CONFIG', `${file}: "${key}" is missing or not a positive number.`, { file });
    return sized(key, v);
  };
  const sized = (key: keyof typeof CONFIG_LIMITS, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > CONFIG_LIMITS[key])
      throw new ModelError(
        'BAD_CONFIG',
        `${file}: "${key}" is ${JSON.stringify(v)}; it must be an integer from 1 to ${CONFIG_LIMITS[key]}. The file is damaged or not a model Homecoder can run.`,
        { file },
      );
    return v;
  };
  const positive = (key: 'rms_norm_eps' | 'rope_theta', dflt: number, max: number): number => {
    const v = c[key] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v >= max)
      throw new ModelError(
        'BAD_CONFIG',
        `${file}: "${key}" is ${JSON.stringify(v)}; it must be a number above 0 and below ${max}, or the model computes NaN.`,
        { file },
      );
    return v;
  };
  const scaling = c.rope_scaling;
  const ropeType = scaling?.rope_type ?? scaling?.type;
  let ropeLinearFactor: number | undefined;
  if (scaling && ropeType === 'linear') {
    // DeepSeek-Coder and CodeLlama-style position interpolation: positions / factor.
    if (typeof scaling.factor !== 'number' || !(scaling.factor > 0) || !Number.isFinite(scaling.factor))
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
  const numKvHeads = c.num_key_value_heads === undefined ? numHeads : sized('num_key_value_heads', c.num_key_value_heads);
  const headDim = c.head_dim === undefined ? hiddenSize / numHeads : sized('head_dim', c.head_dim);
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
    rmsNormEps: positive('rms_norm_eps', 1e-6, 1),
    ropeTheta: positive('rope_theta', 10000, 1e12),
    ...(ropeLinearFactor !== undefined && ropeLinearFactor !== 1 ? { ropeLinearFactor } : {}),
    maxPositionEmbeddings: c.max_position_embeddings === undefined ? 4096 : sized('max_position_embeddings', c.max_position_embeddings),
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

/**
 * The serving context length: the flag, else the model's (at most 4096). Checked against the
 * model's max_position_embeddings before the KV cache is allocated (100M positions never got ready).
 */
export function servingContext(flag: string | undefined, c: ModelConfig): number {
  const context = flag === undefined ? Math.min(c.maxPositionEmbeddings, 4096) : Number(flag);
  if (!Number.isInteger(context) || context < 16 || context > c.maxPositionEmbeddings)
    throw new ModelError(
      'CONTEXT_TOO_LONG',
      `--context ${flag}: give an integer from 16 to ${c.maxPositionEmbeddings} (this model's max_position_embeddings).`,
      { file: 'config.json' },
    );
  return context;
}
