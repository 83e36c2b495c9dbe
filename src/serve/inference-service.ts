// Inference in the engine worker: a decoder with its KV cache on the loaded model, what it
// serves (the base model, or stored adapters with weights mixed into one), and completions
// for the bridge link. A model change on the Model page rebuilds the decoder; an adapter
// change keeps the base weights where they are and swaps only the LoRA buffers.
import { Decoder } from '../gpu/decoder.ts';
import type { GpuLora } from '../gpu/lora.ts';
import { baseModelWarning, readPeftAdapter } from '../model/peft.ts';
import type { Combination } from '../model/adapter-mix.ts';
import { parameterCount } from '../model/layout.ts';
import type { AdapterSource } from '../model/storage/adapter-store.ts';
import type { ModelService } from './model-service.ts';
import { CompletionService } from './completion-service.ts';
import { adapterLabels, type NamedAdapter, uploadAdapterMix } from './serving-adapter.ts';
import type { CompletionRequest, CompletionResult, ServingInfo } from './types.ts';
import { CompletionError } from './errors.ts';

export interface ServingChoice {
  /** Stored adapter ids with weights; empty = the base model alone. */
  adapters: Array<{ id: string; weight: number }>;
  combination: Combination;
}

/** Most positions the tab's KV cache holds (memory: 2·layers·positions·kv-width floats). */
const TAB_CONTEXT = 2048;

export class InferenceService {
  private built?: { loaded: object; decoder: Decoder; service: CompletionService; adapter?: GpuLora };
  private choice: ServingChoice = { adapters: [], combination: 'cat' };
  private labels: Array<{ name: string; weight: number }> = [];
  private listeners = new Set<() => void>();

  constructor(
    private models: ModelService,
    private adapters: () => Promise<AdapterSource>,
  ) {}

  /** Called when what serves changes (the bridge link tells the bridge). */
  onChange(fn: () => void): void {
    this.listeners.add(fn);
  }

  changed(): void {
    for (const fn of this.listeners) fn();
  }

  serving(): ServingInfo | undefined {
    const cur = this.models.current;
    if (!cur) return undefined;
    const c = cur.info.config;
    return {
      model: 'homecoder',
      base: cur.info.name,
      adapters: this.labels,
      fim: cur.tokenizer.fim?.family,
      contextLength: Math.min(c.maxPositionEmbeddings, TAB_CONTEXT),
      parameters: parameterCount(c),
    };
  }

  /** Serves the base model or a weighted mix of stored adapters; warns of adapters made for another base. */
  async setServing(choice: ServingChoice): Promise<ServingInfo & { warnings: string[] }> {
    const cur = this.models.current;
    if (!cur) throw new CompletionError('NO_MODEL', 'Load a model on the Model page first.');
    const b = this.ensure();
    const source = await this.adapters();
    const parts: NamedAdapter[] = [];
    const warnings: string[] = [];
    for (const a of choice.adapters.filter((x) => x.weight !== 0)) {
      const peft = await readPeftAdapter(await source.files(a.id), cur.info.config);
      const warning = baseModelWarning(peft.baseModel, cur.info.source, `Adapter ${a.id}`);
      if (warning) warnings.push(warning);
      parts.push({ ...peft, weight: a.weight, name: a.id });
    }
    const next = await uploadAdapterMix(cur.memory, cur.info.config, parts, choice.combination);
    this.release(b.adapter);
    b.adapter = next;
    b.decoder.setAdapter(next);
    this.choice = choice;
    this.labels = adapterLabels(parts);
    this.changed();
    return { ...this.serving()!, warnings };
  }

  /** The adapters and weights serving now (what the Use page's export merges). */
  get currentChoice(): ServingChoice {
    return this.choice;
  }

  complete(req: CompletionRequest, opts: { signal?: AbortSignal; onText?: (d: string) => void }): Promise<CompletionResult> {
    if (!this.models.current) throw new CompletionError('NO_MODEL', 'No model is loaded: load one on the Model page.');
    return this.ensure().service.complete(req, opts);
  }

  get active(): number {
    return this.built?.service.active ?? 0;
  }

  /** The decoder for the model loaded now (a new model drops the old decoder and the adapters). */
  private ensure() {
    const cur = this.models.current!;
    if (this.built?.loaded === cur) return this.built;
    // The old model's GPU memory (cache, scratch, adapters) was freed with it; the decoder's
    // own small buffers (RoPE table, staging) are freed here.
    this.built?.decoder.destroy();
    const c = cur.info.config;
    const decoder = new Decoder(cur.memory, cur.model, {
      contextLength: Math.min(c.maxPositionEmbeddings, TAB_CONTEXT),
      kernels: cur.runner.kernels,
    });
    this.built = { loaded: cur, decoder, service: new CompletionService(decoder, cur.tokenizer, c) };
    if (this.choice.adapters.length) {
      this.choice = { adapters: [], combination: 'cat' };
      this.labels = [];
    }
    return this.built;
  }

  private release(a: GpuLora | undefined): void {
    if (!a) return;
    a.destroy();
  }
}
