// A base model's frozen weights on the GPU: 16-bit matrices (row-chunked so no
// binding exceeds the device limit) and f32 norm weights and biases.
import type { HostTensor, ModelConfig } from '../model/types.ts';
import { bf16ToFloat, f16ToFloat } from '../model/dtype.ts';
import type { GpuMemory } from './memory.ts';
import { uploadWeight, type WeightTensor } from './weights.ts';

export interface GpuLinear {
  weight: WeightTensor;
  bias?: GPUBuffer;
}

export interface GpuLayer {
  inputNorm: GPUBuffer;
  postNorm: GPUBuffer;
  q: GpuLinear;
  k: GpuLinear;
  v: GpuLinear;
  o: GpuLinear;
  gate: GpuLinear;
  up: GpuLinear;
  down: GpuLinear;
}

export interface GpuModel {
  config: ModelConfig;
  embed: WeightTensor;
  /** The embedding itself when the model ties them. */
  lmHead: WeightTensor;
  finalNorm: GPUBuffer;
  layers: GpuLayer[];
}

export interface UploadOptions {
  /** Largest bytes in one weight chunk (a binding); defaults to the device's maxStorageBufferBindingSize. */
  maxChunkBytes?: number;
  onTensor?: (name: string, done: number, total: number) => void;
  signal?: AbortSignal;
}

function toF32(t: HostTensor): Float32Array {
  const conv = t.dtype === 'bf16' ? bf16ToFloat : f16ToFloat;
  const out = new Float32Array(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = conv(t.data[i]);
  return out;
}

/** Uploads a model tensor by tensor (so the host never holds the whole model at once). */
export async function uploadModel(
  memory: GpuMemory,
  config: ModelConfig,
  tensor: (name: string) => Promise<HostTensor>,
  opts: UploadOptions = {},
): Promise<GpuModel> {
  const device = memory.device;
  // Chunk byte limit: a multiple of 256 so chunk offsets could also be binding offsets.
  const maxChunkBytes = opts.maxChunkBytes ?? Math.floor(device.limits.maxStorageBufferBindingSize / 256) * 256;
  const total = 3 + config.numLayers * (9 + (config.attentionBias ? 3 : 0)) - (config.tieWordEmbeddings ? 1 : 0);
  let done = 0;
  const step = (name: string) => {
    opts.signal?.throwIfAborted();
    opts.onTensor?.(name, ++done, total);
  };
  const matrix = async (name: string): Promise<WeightTensor> => {
    const w = uploadWeight(device, await tensor(name), maxChunkBytes, name);
    for (const c of w.chunks) memory.track(c.buffer, 'weights');
    step(name);
    return w;
  };
  const vector = async (name: string): Promise<GPUBuffer> => {
    const data = toF32(await tensor(name));
    const b = memory.buffer('weights', data.byteLength, name);
    device.queue.writeBuffer(b, 0, data);
    step(name);
    return b;
  };
  const linear = async (prefix: string, bias: boolean): Promise<GpuLinear> => ({
    weight: await matrix(`${prefix}.weight`),
    bias: bias ? await vector(`${prefix}.bias`) : undefined,
  });

  const embed = await matrix('model.embed_tokens.weight');
  const layers: GpuLayer[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    const bias = config.attentionBias;
    layers.push({
      inputNorm: await vector(`${p}.input_layernorm.weight`),
      q: await linear(`${p}.self_attn.q_proj`, bias),
      k: await linear(`${p}.self_attn.k_proj`, bias),
      v: await linear(`${p}.self_attn.v_proj`, bias),
      o: await linear(`${p}.self_attn.o_proj`, false),
      postNorm: await vector(`${p}.post_attention_layernorm.weight`),
      gate: await linear(`${p}.mlp.gate_proj`, false),
      up: await linear(`${p}.mlp.up_proj`, false),
      down: await linear(`${p}.mlp.down_proj`, false),
    });
  }
  const finalNorm = await vector('model.norm.weight');
  const lmHead = config.tieWordEmbeddings ? embed : await matrix('lm_head.weight');
  return { config, embed, lmHead, finalNorm, layers };
}
