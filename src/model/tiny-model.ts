// Fixture models: deterministic random weights in the real Hugging Face layout
// (config.json, model.safetensors or shards + index, tokenizer files). Used by tests,
// benchmarks and the demo model; nothing is downloaded.
import { toHfConfig } from './config.ts';
import { expectedTensors } from './layout.ts';
import { randomTensors } from './random-weights.ts';
import { writeSafetensors, type TensorToWrite } from './safetensors.ts';
import { makeTinyTokenizer } from './tiny-tokenizer.ts';
import { bf16ToFloat } from './dtype.ts';
import type { ModelConfig } from './types.ts';

export interface TinyModelOptions {
  arch: 'llama' | 'qwen2';
  seed: number;
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  /** Defaults to the tokenizer's size. */
  vocab?: number;
  tie?: boolean;
  /** How weights are stored: bf16 (default), f16, or f32 (converted to bf16 on load). */
  dtype: 'bf16' | 'f16' | 'f32';
  /** Split the weights over this many safetensors shards (with an index) when > 1. */
  shards: number;
  /** Tokenizer files to ship instead of the tiny one (e.g. the real Qwen tokenizer). */
  tokenizer?: { tokenizerJson: object; tokenizerConfig: object; vocabSize: number };
}

export const TINY_DEFAULTS: TinyModelOptions = { arch: 'qwen2', seed: 1, layers: 2, hidden: 64, heads: 4, kvHeads: 2, intermediate: 128, dtype: 'bf16', shards: 1 };

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2));

export function tinyModelConfig(o: TinyModelOptions, vocab: number, eos: number, bos?: number): ModelConfig {
  return {
    architecture: o.arch === 'llama' ? 'LlamaForCausalLM' : 'Qwen2ForCausalLM',
    modelType: o.arch,
    vocabSize: vocab,
    hiddenSize: o.hidden,
    intermediateSize: o.intermediate,
    numLayers: o.layers,
    numHeads: o.heads,
    numKvHeads: o.kvHeads,
    headDim: o.hidden / o.heads,
    rmsNormEps: 1e-6,
    ropeTheta: o.arch === 'qwen2' ? 1000000 : 10000,
    maxPositionEmbeddings: 4096,
    tieWordEmbeddings: o.tie ?? o.arch === 'qwen2',
    attentionBias: o.arch === 'qwen2',
    torchDtype: o.dtype === 'f16' ? 'float16' : o.dtype === 'f32' ? 'float32' : 'bfloat16',
    bosTokenId: bos,
    eosTokenId: eos,
  };
}

/** All files of a fixture model, by file name. */
export function makeTinyModel(opts: Partial<TinyModelOptions> = {}): { config: ModelConfig; files: Map<string, Uint8Array> } {
  const o = { ...TINY_DEFAULTS, ...opts };
  if (o.hidden % o.heads) throw new Error(`--hidden ${o.hidden} must be a multiple of --heads ${o.heads}`);
  if (o.heads % o.kvHeads) throw new Error(`--heads ${o.heads} must be a multiple of --kv-heads ${o.kvHeads}`);
  const tok = o.tokenizer ?? makeTinyTokenizer(56, o.arch === 'llama');
  const ids = new Map<string, number>((tok.tokenizerJson as { added_tokens: Array<{ id: number; content: string }> }).added_tokens.map((t) => [t.content, t.id]));
  const vocab = Math.max(o.vocab ?? 0, tok.vocabSize);
  const eos = ids.get('<|endoftext|>') ?? 0;
  const config = tinyModelConfig(o, vocab, eos, o.arch === 'llama' ? ids.get('<s>') : undefined);
  const tensors = randomTensors(config, o.seed, o.dtype === 'f16' ? 'f16' : 'bf16');
  const toWrite: TensorToWrite[] = expectedTensors(config).map((spec) => {
    const t = tensors.get(spec.name)!;
    if (o.dtype === 'f32') {
      const f = Float32Array.from(t.data, bf16ToFloat);
      return { name: spec.name, dtype: 'F32', shape: spec.shape, data: new Uint8Array(f.buffer) };
    }
    return { name: spec.name, dtype: o.dtype === 'f16' ? 'F16' : 'BF16', shape: spec.shape, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) };
  });
  const files = new Map<string, Uint8Array>();
  files.set('config.json', json(toHfConfig(config)));
  files.set('generation_config.json', json({ bos_token_id: config.bosTokenId, eos_token_id: eos }));
  files.set('tokenizer.json', json(tok.tokenizerJson));
  files.set('tokenizer_config.json', json(tok.tokenizerConfig));
  const meta = { format: 'pt', homecoder_fixture: `seed=${o.seed}` };
  if (o.shards <= 1) {
    files.set('model.safetensors', writeSafetensors(toWrite, meta));
  } else {
    const per = Math.ceil(toWrite.length / o.shards);
    const weightMap: Record<string, string> = {};
    let total = 0;
    for (let s = 0; s < o.shards; s++) {
      const part = toWrite.slice(s * per, (s + 1) * per);
      const name = `model-${String(s + 1).padStart(5, '0')}-of-${String(o.shards).padStart(5, '0')}.safetensors`;
      for (const t of part) {
        weightMap[t.name] = name;
        total += t.data.byteLength;
      }
      files.set(name, writeSafetensors(part, meta));
    }
    files.set('model.safetensors.index.json', json({ metadata: { total_size: total }, weight_map: weightMap }));
  }
  return { config, files };
}
