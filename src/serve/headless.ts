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
import { CompletionError } from './errors.ts';
import type { GpuLora } from '../gpu/lora.ts';
import type { ServingInfo } from './types.ts';

/** Most positions the KV cache holds unless asked for more (memory grows with it). */
export const HEADLESS_CONTEXT = 4096;

export interface HeadlessOptions {
  /** Where the base model came from, shown to editors. */
  base: string;
  adapters: NamedAdapter[];
  combination: Combination;
  /** Adapters requests pick by name (model `homecoder:<name>`), each on the GPU beside the default. */
  named?: NamedAdapter[];
  /** Positions the KV cache holds (default: the model's, at most HEADLESS_CONTEXT). */
  contextLength?: number;
  /** KV cache storage (DecoderOptions.kvCache). */
  kvCache?: 'auto' | 'f16' | 'f32';
  /** GPU bytes serving may hold (DecoderOptions.memoryBudget): a single adapter's merged copy must fit. */
  gpuMemory?: number;
  /** Serve a single adapter merged into the weights (DecoderOptions.merge, default true). */
  merge?: boolean;
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
    async () =>
      new Decoder(loaded.memory, loaded.model, {
        contextLength,
        kvCache: opts.kvCache,
        kernels: loaded.runner?.kernels,
        memoryBudget: opts.gpuMemory,
        merge: opts.merge,
      }),
  );
  const adapter = await uploadAdapterMix(loaded.memory, config, opts.adapters, opts.combination);
  if (adapter) decoder.setAdapter(adapter);
  // All named adapters stay uploaded: a request's swap is a pointer change, not a load.
  const named = new Map<string, GpuLora>();
  for (const a of opts.named ?? []) named.set(a.name, (await uploadAdapterMix(loaded.memory, config, [{ ...a, weight: 1 }], 'cat'))!);
  const service = new CompletionService(decoder, loaded.tokenizer, config, async (name) => {
    const lora = named.get(name);
    if (!lora)
      throw new CompletionError('UNKNOWN_MODEL', `No adapter called "${name}": served are ${[...named.keys()].join(', ') || 'none'}.`);
    return lora;
  });
  service.defaultAdapter = adapter;
  return {
    service,
    info: {
      model: 'homecoder',
      base: opts.base,
      adapters: adapterLabels(opts.adapters),
      fim: loaded.tokenizer.fim?.family,
      contextLength,
      parameters: parameterCount(config),
      named: [...named.keys()],
      chat: loaded.tokenizer.chatTemplate !== undefined,
    },
  };
}
