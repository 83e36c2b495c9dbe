// A Llama-family model (base or merged) as llama.cpp's GGUF, with the names, metadata and
// layout convert_hf_to_gguf.py gives it: HF tensor names → llama.cpp's (blk.N.attn_q…),
// dims reversed (ggml is innermost first), 1-D tensors in F32, Llama's q/k rows permuted
// from HF's rotate-half order to llama.cpp's interleaved RoPE (Qwen2 uses NeoX RoPE in
// llama.cpp, so it keeps HF's order).
import { expectedTensors } from '../layout.ts';
import type { ModelConfig } from '../types.ts';
import { ExportError } from './errors.ts';
import { f32, FILE_TYPE, GGML_TYPE, str, u32, type GgmlType, type GgufTensor, type GgufValue } from './gguf.ts';
import { ggufTokenizerMetadata } from './gguf-tokenizer.ts';
import type { ExportWeights } from './merge.ts';
import { encodeF16, encodeF32, encodeQ4_K, encodeQ8_0, Q8_0_BLOCK, QK_K } from './quantize.ts';

export type GgufQuant = 'f16' | 'q8_0' | 'q4_k';

/** llama.cpp's architecture name for a HF architecture. */
export function ggufArchitecture(c: ModelConfig): 'llama' | 'qwen2' {
  switch (c.architecture) {
    case 'LlamaForCausalLM':
    case 'MistralForCausalLM':
      return 'llama';
    case 'Qwen2ForCausalLM':
      return 'qwen2';
    default:
      throw new ExportError(
        'EXPORT_UNSUPPORTED_ARCHITECTURE',
        `GGUF export writes Llama, Mistral and Qwen2 models; this model is ${String((c as { architecture: unknown }).architecture)}. Export the Hugging Face folder instead.`,
      );
  }
}

const LAYER_NAMES: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.q_proj.bias': 'attn_q.bias',
  'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.k_proj.bias': 'attn_k.bias',
  'self_attn.v_proj.weight': 'attn_v.weight',
  'self_attn.v_proj.bias': 'attn_v.bias',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'post_attention_layernorm.weight': 'ffn_norm.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
};

/** llama.cpp's name of a HF tensor. */
export function ggufTensorName(hf: string): string {
  if (hf === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (hf === 'model.norm.weight') return 'output_norm.weight';
  if (hf === 'lm_head.weight') return 'output.weight';
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hf);
  const local = m && LAYER_NAMES[m[2]];
  if (!local) throw new Error(`no GGUF name for ${hf}`);
  return `blk.${m[1]}.${local}`;
}

/**
 * Rows of a q or k projection (weight [heads·headDim, in] or bias) reordered as
 * convert_hf_to_gguf's LlamaModel.permute: within each head, row j·(d/2)+i moves to 2i+j.
 * `cols` is 1 for a bias.
 */
export function permuteRope(x: Float32Array, heads: number, cols: number): Float32Array {
  const rows = x.length / cols;
  const d = rows / heads;
  const half = d / 2;
  const out = new Float32Array(x.length);
  for (let h = 0; h < heads; h++)
    for (let j = 0; j < 2; j++)
      for (let i = 0; i < half; i++) {
        const from = (h * d + j * half + i) * cols;
        const to = (h * d + 2 * i + j) * cols;
        out.set(x.subarray(from, from + cols), to);
      }
  return out;
}

/** Heads whose rows a tensor of this HF name holds, when llama.cpp needs them permuted. */
export function ropePermuteHeads(c: ModelConfig, hfName: string): number | undefined {
  if (ggufArchitecture(c) !== 'llama') return undefined;
  if (/\.self_attn\.q_proj\.(weight|bias)$/.test(hfName)) return c.numHeads;
  if (/\.self_attn\.k_proj\.(weight|bias)$/.test(hfName)) return c.numKvHeads;
  return undefined;
}

/** The {arch}.* and general.* keys shared by a model and its LoRA adapters. */
export function ggufModelMetadata(c: ModelConfig, name: string): Map<string, GgufValue> {
  const arch = ggufArchitecture(c);
  const md = new Map<string, GgufValue>([
    ['general.architecture', str(arch)],
    ['general.name', str(name)],
    [`${arch}.vocab_size`, u32(c.vocabSize)],
    [`${arch}.context_length`, u32(c.maxPositionEmbeddings)],
    [`${arch}.embedding_length`, u32(c.hiddenSize)],
    [`${arch}.block_count`, u32(c.numLayers)],
    [`${arch}.feed_forward_length`, u32(c.intermediateSize)],
    [`${arch}.attention.head_count`, u32(c.numHeads)],
    [`${arch}.attention.head_count_kv`, u32(c.numKvHeads)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(c.rmsNormEps)],
    [`${arch}.rope.freq_base`, f32(c.ropeTheta)],
    [`${arch}.rope.dimension_count`, u32(c.headDim)],
  ]);
  if (c.headDim * c.numHeads !== c.hiddenSize) {
    md.set(`${arch}.attention.key_length`, u32(c.headDim));
    md.set(`${arch}.attention.value_length`, u32(c.headDim));
  }
  if (c.ropeLinearFactor && c.ropeLinearFactor !== 1) {
    md.set(`${arch}.rope.scaling.type`, str('linear'));
    md.set(`${arch}.rope.scaling.factor`, f32(c.ropeLinearFactor));
  }
  return md;
}

export interface GgufModelPlan {
  metadata: Map<string, GgufValue>;
  tensors: GgufTensor[];
}

/**
 * Metadata and tensors (data produced on demand) of a model's GGUF. 2-D weights are F16, Q8_0
 * or Q4_K (a row length that is not a multiple of the block falls back to Q8_0, then F16, as
 * llama.cpp's quantizer does).
 */
export function ggufModelPlan(
  w: ExportWeights,
  tokenizer: { tokenizerJson: object; tokenizerConfig: object },
  quant: GgufQuant,
  name: string,
): GgufModelPlan {
  const c = w.config;
  const metadata = ggufModelMetadata(c, name);
  metadata.set(
    'general.file_type',
    u32(quant === 'f16' ? FILE_TYPE.MOSTLY_F16 : quant === 'q8_0' ? FILE_TYPE.MOSTLY_Q8_0 : FILE_TYPE.MOSTLY_Q4_K_S),
  );
  metadata.set('general.quantization_version', u32(2));
  for (const [k, v] of ggufTokenizerMetadata(tokenizer.tokenizerJson, tokenizer.tokenizerConfig, c.vocabSize)) metadata.set(k, v);
  const shapes = new Map(expectedTensors(c).map((t) => [t.name, t.shape]));
  const tensors: GgufTensor[] = w.names.map((hf) => {
    const shape = shapes.get(hf)!;
    const dims = [...shape].reverse();
    const type: GgmlType =
      dims.length === 1
        ? GGML_TYPE.F32
        : quant === 'q4_k' && dims[0] % QK_K === 0
          ? GGML_TYPE.Q4_K
          : quant !== 'f16' && dims[0] % Q8_0_BLOCK === 0
            ? GGML_TYPE.Q8_0
            : GGML_TYPE.F16;
    return {
      name: ggufTensorName(hf),
      dims,
      type,
      data: async () => {
        let { values } = await w.tensor(hf);
        const heads = ropePermuteHeads(c, hf);
        if (heads) values = permuteRope(values, heads, shape.length === 2 ? shape[1] : 1);
        if (type === GGML_TYPE.F32) return encodeF32(values);
        if (type === GGML_TYPE.F16) return encodeF16(values);
        return type === GGML_TYPE.Q4_K ? encodeQ4_K(values) : encodeQ8_0(values);
      },
    };
  });
  return { metadata, tensors };
}
