// What a model serves with besides its base weights: weighted PEFT adapters mixed into one
// LoRA (model/adapter-mix.ts) and uploaded. The tab's inference service and `homecoder
// serve` both use it.
import { GpuLora } from '../gpu/lora.ts';
import { withErrorScopes } from '../gpu/device.ts';
import type { GpuMemory } from '../gpu/memory.ts';
import { mixAdapters, type Combination, type WeightedAdapter } from '../model/adapter-mix.ts';
import type { ModelConfig } from '../model/types.ts';

export interface NamedAdapter extends WeightedAdapter {
  /** Shown to editors with its weight (ServingInfo.adapters). */
  name: string;
}

/** The mix on the GPU, or undefined for none (the base model alone). */
export async function uploadAdapterMix(
  memory: GpuMemory,
  config: ModelConfig,
  parts: NamedAdapter[],
  combination: Combination,
): Promise<GpuLora | undefined> {
  if (!parts.length) return undefined;
  const mixed = mixAdapters(config, parts, combination);
  return withErrorScopes(
    memory.device,
    'uploading the adapter',
    // One adapter is served merged into the weights; a mix of several, unmerged.
    async () =>
      new GpuLora(memory, mixed.lora, mixed.layers, { trainable: false, single: parts.filter((p) => p.weight !== 0).length === 1 }),
  );
}

export function adapterLabels(parts: NamedAdapter[]): Array<{ name: string; weight: number }> {
  return parts.map((p) => ({ name: p.name, weight: p.weight }));
}
