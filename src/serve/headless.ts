// Serving in the bridge's own process (`homecoder serve`): a decoder with its own KV cache
// on a model loaded here, the weighted adapters mixed in, and the completion service the
// bridge's LocalBackend answers editors with.
import { Decoder } from '../gpu/decoder.ts';
import { withErrorScopes } from '../gpu/device.ts';
import type { KernelRunner } from '../gpu/kernel.ts';
import type { GpuMemory } from '../gpu/memory.ts';
import type { GpuModel } from '../gpu/model.ts';
import type { Combination } from '../model/adapter-mix.ts';
import { parameterCount } from '../model/layout.ts';
import type { ModelTokenizer } from '../model/tokenizer.ts';
import { adapterLabels, type NamedAdapter, uploadAdapterMix } from './serving-adapter.ts';
import { CompletionService } from './completion-service.ts';
import type { ServingInfo } from './types.ts';

/** Most positions the KV cache holds unless asked for more (memory grows with it). */
export const HEADLESS_CONTEXT = 4096;

export interface HeadlessOptions {
  /** Where the base model came from, shown to editors. */
  base: string;
  adapters: NamedAdapter[];
  combination: Combination;
  /** Positions the KV cache holds (default: the model's, at most HEADLESS_CONTEXT). */
  contextLength?: number;
}

export async function openHeadlessService(
  loaded: { memory: GpuMemory; model: GpuModel; tokenizer: ModelTokenizer; runner?: KernelRunner },
  opts: HeadlessOptions,
): Promise<{ service: CompletionService; info: ServingInfo }> {
  const config = loaded.model.config;
  const contextLength = opts.contextLength ?? Math.min(config.maxPositionEmbeddings, HEADLESS_CONTEXT);
  const decoder = await withErrorScopes(
    loaded.memory.device,
    `allocating the KV cache for ${contextLength} positions`,
    async () => new Decoder(loaded.memory, loaded.model, { contextLength, kernels: loaded.runner?.kernels }),
  );
  const adapter = await uploadAdapterMix(loaded.memory, config, opts.adapters, opts.combination);
  if (adapter) decoder.setAdapter(adapter);
  return {
    service: new CompletionService(decoder, loaded.tokenizer, config),
    info: {
      model: 'homecoder',
      base: opts.base,
      adapters: adapterLabels(opts.adapters),
      fim: loaded.tokenizer.fim?.family,
      contextLength,
      parameters: parameterCount(config),
    },
  };
}
