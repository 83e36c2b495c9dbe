// The shapes every layer agrees on: a normalized Llama-family config, LoRA settings,
// and the host-side (CPU) form of a model's weights.

export type Architecture = 'LlamaForCausalLM' | 'Qwen2ForCausalLM' | 'MistralForCausalLM';
export const SUPPORTED_ARCHITECTURES: readonly Architecture[] = ['LlamaForCausalLM', 'Qwen2ForCausalLM', 'MistralForCausalLM'];

/** A Hugging Face config.json reduced to what the engine needs (names as in HF). */
export interface ModelConfig {
  architecture: Architecture;
  /** 'llama' | 'qwen2' | 'mistral' (HF model_type). */
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** Linear RoPE scaling (HF rope_scaling {type: 'linear', factor}): positions are divided by it. 1 or absent: none. */
  ropeLinearFactor?: number;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** Qwen2 has biases on q/k/v projections. */
  attentionBias: boolean;
  /** torch_dtype of the checkpoint ('bfloat16' | 'float16' | 'float32'). */
  torchDtype: string;
  bosTokenId?: number;
  eosTokenId?: number | number[];
}

export const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  targets: LoraTarget[];
}

/** Host copy of one module's LoRA weights (what PEFT files hold): A [r, in], B [out, r]. */
export interface HostLora {
  A: Float32Array;
  B: Float32Array;
  inF: number;
  outF: number;
}

/** A LoRA adapter on the host, per layer and target module. */
export type HostAdapter = Array<Partial<Record<LoraTarget, HostLora>>>;

/** 16-bit dtypes weights are kept in on the GPU; f32 checkpoints are converted to bf16 on load. */
export type WeightDtype = 'bf16' | 'f16';

/**
 * One weight tensor on the host: row-major, 16-bit values (bits in a Uint16Array).
 * A Linear weight has HF's shape [out, in].
 */
export interface HostTensor {
  name: string;
  shape: number[];
  dtype: WeightDtype;
  data: Uint16Array;
}

/** Per-layer tensor names in the HF Llama layout (without the `model.layers.{i}.` prefix). */
export const LAYER_TENSORS = {
  inputNorm: 'input_layernorm.weight',
  postNorm: 'post_attention_layernorm.weight',
  q: 'self_attn.q_proj',
  k: 'self_attn.k_proj',
  v: 'self_attn.v_proj',
  o: 'self_attn.o_proj',
  gate: 'mlp.gate_proj',
  up: 'mlp.up_proj',
  down: 'mlp.down_proj',
} as const;
