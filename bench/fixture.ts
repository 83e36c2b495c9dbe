// The benchmarks' fixture model (4 layers, hidden 256, random weights) on the GPU, and the
// LoRA they train or decode with (r=16 on all seven modules).
import { GpuMemory } from '../src/gpu/memory.ts';
import { type GpuModel, uploadModel } from '../src/gpu/model.ts';
import { randomTensors } from '../src/model/fixtures/random-weights.ts';
import { tinyModelConfig, TINY_DEFAULTS } from '../src/model/fixtures/tiny-model.ts';
import { LORA_TARGETS, type LoraConfig, type ModelConfig } from '../src/model/types.ts';

export const BENCH_FIXTURE = { ...TINY_DEFAULTS, layers: 4, hidden: 256, heads: 4, kvHeads: 2, intermediate: 704 };
export const BENCH_LORA: LoraConfig = { r: 16, alpha: 32, dropout: 0, targets: [...LORA_TARGETS] };

export async function benchModel(device: GPUDevice): Promise<{ config: ModelConfig; memory: GpuMemory; model: GpuModel }> {
  const config = tinyModelConfig(BENCH_FIXTURE, 1024, 0);
  const tensors = randomTensors(config, 1);
  const memory = new GpuMemory(device);
  const model = await uploadModel(memory, config, async (n) => tensors.get(n)!);
  return { config, memory, model };
}
