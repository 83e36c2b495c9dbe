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
import { storedAdapterNames } from './model-names.ts';
import type { AddedContext, SnippetSearch } from './repo-context.ts';

export interface ServingChoice {
  /** Stored adapter ids with weights; empty = the base model alone. */
  adapters: Array<{ id: string; weight: number }>;
  combination: Combination;
}

/** Named adapters kept on the GPU at once (each is small: r·(in+out) floats per target). */
const MAX_NAMED_LOADED = 4;

/** Where the tab's repository-context index and its on/off setting are kept (the sources' IndexedDB). */
export interface RepoContextStore {
  load(): Promise<{ search: SnippetSearch; snippets: number; at: number } | undefined>;
  isOn(): Promise<boolean>;
  setOn(on: boolean): Promise<void>;
}

/** The Use page's view of repository context: on or off, the index, what the last request got. */
export interface RepoContextStatus {
  on: boolean;
  /** Files and snippets in the index (0 when the sources were never filtered). */
  files: number;
  snippets: number;
  /** When the filter run it comes from finished (ms since 1970). */
  builtAt?: number;
  /** What was added to the last completion request (undefined: none since it was turned on). */
  last?: AddedContext;
}

/** Most positions the tab's KV cache holds (memory: 2·layers·positions·kv-width floats). */
const TAB_CONTEXT = 2048;

export class InferenceService {
  private built?: { loaded: object; decoder: Decoder; service: CompletionService; adapter?: GpuLora };
  private choice: ServingChoice = { adapters: [], combination: 'cat' };
  private labels: Array<{ name: string; weight: number }> = [];
  private listeners = new Set<() => void>();
  /** Stored adapters by the name a request picks them with (model `homecoder:<name>`) → stored id. */
  private names = new Map<string, string>();
  /** Named adapters on the GPU, the most recently used last. */
  private loaded = new Map<string, { id: string; lora: GpuLora }>();

  private repo?: { search: SnippetSearch; snippets: number; at: number };
  private repoOn = false;

  constructor(
    private models: ModelService,
    private adapters: () => Promise<AdapterSource>,
    private repoStore?: RepoContextStore,
  ) {}

  /** Turns repository context on or off (remembered) and loads the sources' index. */
  async setRepoContext(on: boolean): Promise<RepoContextStatus> {
    await this.repoStore?.setOn(on);
    this.repoOn = on;
    this.repo = on ? await this.repoStore?.load() : undefined;
    this.applyRepoContext();
    return this.repoContextStatus();
  }

  /** After a reload: back on if it was; after a filter run: the new index. */
  async refreshRepoContext(): Promise<void> {
    if (!this.repoStore) return;
    this.repoOn = await this.repoStore.isOn();
    this.repo = this.repoOn ? await this.repoStore.load() : undefined;
    this.applyRepoContext();
  }

  repoContextStatus(): RepoContextStatus {
    return {
      on: this.repoOn,
      files: this.repo?.search.files ?? 0,
      snippets: this.repo?.snippets ?? 0,
      builtAt: this.repo?.at,
      last: this.repoOn ? this.built?.service.lastContext : undefined,
    };
  }

  private applyRepoContext(): void {
    this.built?.service.setRepoContext(this.repoOn ? this.repo?.search : undefined);
  }

  /** Called when what serves changes (the bridge link tells the bridge). */
  /** Calls `fn` on each change of what serves; returns a function that stops that. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** What serves changed (or the stored adapters did): the names are listed again, then the listeners told. */
  changed(): void {
    void this.refreshNames()
      .catch(() => undefined) // no storage: no named adapters
      .finally(() => {
        for (const fn of this.listeners) fn();
      });
  }

  private async refreshNames(): Promise<void> {
    this.names = storedAdapterNames(await (await this.adapters()).list());
  }

  /** A stored adapter by name, uploaded on first use; the least recently used go past MAX_NAMED_LOADED. */
  private async named(name: string): Promise<GpuLora> {
    const id = this.names.get(name);
    const hit = this.loaded.get(name);
    if (hit && hit.id === id) {
      this.loaded.delete(name);
      this.loaded.set(name, hit);
      return hit.lora;
    }
    const cur = this.models.current;
    if (!cur || !id)
      throw new CompletionError('UNKNOWN_MODEL', `No stored adapter is called "${name}": GET /v1/models lists the names served.`);
    const peft = await readPeftAdapter(await (await this.adapters()).files(id), cur.info.config);
    const lora = (await uploadAdapterMix(cur.memory, cur.info.config, [{ ...peft, weight: 1, name }], 'cat'))!;
    if (hit) this.evict(name, hit.lora); // the name now means another stored adapter
    this.loaded.set(name, { id, lora });
    for (const [old, { lora: l }] of this.loaded) {
      if (this.loaded.size <= MAX_NAMED_LOADED) break;
      this.evict(old, l);
    }
    return lora;
  }

  private evict(name: string, l: GpuLora): void {
    const b = this.built!;
    if (b.decoder.currentAdapter === l) b.decoder.setAdapter(b.service.defaultAdapter);
    l.destroy();
    this.loaded.delete(name);
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
      named: [...this.names.keys()],
      chat: cur.tokenizer.chatTemplate !== undefined,
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
    b.service.defaultAdapter = next;
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
    this.built = { loaded: cur, decoder, service: new CompletionService(decoder, cur.tokenizer, c, (name) => this.named(name)) };
    this.loaded.clear(); // the old model's adapters went with its memory
    this.applyRepoContext();
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
