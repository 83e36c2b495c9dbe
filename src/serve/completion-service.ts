// Completions on a loaded model: builds the prompt (FIM per family, truncation), runs the
// token loop on the decoder one request at a time, turns tokens into text as they come
// (holding back an incomplete UTF-8 character and anything that may be the start of a
// stop string) and reports timings. Chat requests are rendered with the model's chat
// template (chat.ts); a request naming an adapter has it swapped in first (the base stays).
// Runs in the engine worker and in `homecoder serve`.
import type { Decoder } from '../gpu/decoder.ts';
import type { GpuLora } from '../gpu/lora.ts';
import { buildChatPrompt, chatStopIds } from './chat.ts';
import { generateTokens, type FinishReason } from './generate.ts';
import { buildPrompt, stopTokenIds } from './fim.ts';
import type { ModelTokenizer } from '../model/tokenizer.ts';
import type { ModelConfig } from '../model/types.ts';
import type { CompletionRequest, CompletionResult } from './types.ts';
import { DEFAULT_REPO_CONTEXT, withRepoContext, type AddedContext, type RepoContextOptions, type SnippetSearch } from './repo-context.ts';

import { CompletionError } from './errors.ts';

export { CompletionError };

/** The GPU adapter a named adapter serves with (loaded on first use); throws UNKNOWN_MODEL for none. */
export type AdapterResolver = (name: string) => Promise<GpuLora>;

/** Longest end of `text` that is the start of some stop string (it may still become one). */
function heldBack(text: string, stops: string[]): number {
  let hold = 0;
  for (const s of stops)
    for (let n = Math.min(s.length - 1, text.length); n > hold; n--)
      if (text.endsWith(s.slice(0, n))) {
        hold = n;
        break;
      }
  return hold;
}

export class CompletionService {
  private queue: Promise<unknown> = Promise.resolve();
  private running = 0;
  private stopIds: number[];
  private chatStops: number[];
  /** What serves a request that names no adapter (the base when undefined). */
  defaultAdapter?: GpuLora;
  private repo?: { search: SnippetSearch; opts: RepoContextOptions };
  /** What repository context the last request got (undefined: none was looked for). */
  lastContext?: AddedContext;

  constructor(
    readonly decoder: Decoder,
    readonly tokenizer: ModelTokenizer,
    readonly config: ModelConfig,
    private namedAdapter?: AdapterResolver,
  ) {
    this.stopIds = stopTokenIds(tokenizer, config.eosTokenId);
    this.chatStops = chatStopIds(tokenizer, config.eosTokenId);
  }

  /** Swaps in the request's adapter when another one is on (the KV cache is dropped then). */
  private async useAdapter(name: string | undefined): Promise<void> {
    let lora = this.defaultAdapter;
    if (name !== undefined) {
      if (!this.namedAdapter) throw new CompletionError('UNKNOWN_MODEL', `No adapter called "${name}" is served here.`);
      lora = await this.namedAdapter(name);
    }
    if (this.decoder.currentAdapter !== lora) this.decoder.setAdapter(lora);
  }

  /** Adds repository context from `search` to requests that carry none (undefined = off). */
  setRepoContext(search: SnippetSearch | undefined, opts: RepoContextOptions = DEFAULT_REPO_CONTEXT): void {
    this.repo = search ? { search, opts } : undefined;
  }

  get repoContextFiles(): number | undefined {
    return this.repo?.search.files;
  }

  /** Generations in progress or waiting (0 when idle). */
  get active(): number {
    return this.running;
  }

  /** Runs one completion after the ones already queued. */
  complete(req: CompletionRequest, opts: { signal?: AbortSignal; onText?: (delta: string) => void } = {}): Promise<CompletionResult> {
    this.running++;
    const run = this.queue.then(() => this.run(req, opts));
    this.queue = run.catch(() => undefined);
    return run.finally(() => this.running--);
  }

  private async run(asked: CompletionRequest, opts: { signal?: AbortSignal; onText?: (delta: string) => void }): Promise<CompletionResult> {
    const { req, added } = this.repo ? withRepoContext(asked, this.repo.search, this.tokenizer, this.repo.opts) : { req: asked };
    this.lastContext = added;
    const maxTokens = Math.max(0, Math.min(req.maxTokens, this.decoder.contextLength - 8));
    const budget = this.decoder.contextLength - maxTokens;
    // A conversation keeps its turns before a large answer budget: at most a quarter of the
    // context is held back for the answer, which then ends where the context does ('length').
    const built = req.messages
      ? buildChatPrompt(
          this.tokenizer,
          req.messages,
          this.decoder.contextLength - Math.min(maxTokens, Math.floor(this.decoder.contextLength / 4)),
        )
      : buildPrompt(this.tokenizer, req, budget);
    await this.useAdapter(req.adapter);
    const result = (text: string, finishReason: FinishReason, extra: Partial<CompletionResult> = {}): CompletionResult => ({
      text,
      finishReason,
      promptTokens: built.ids.length,
      completionTokens: 0,
      reusedTokens: 0,
      truncated: built.truncated,
      prefillMs: 0,
      decodeMs: 0,
      ...(added ? { context: added } : {}),
      ...extra,
    });
    if (maxTokens === 0) return result('', 'length'); // a warm-up request (llama.vim sends n_predict 0)
    if (opts.signal?.aborted) return result('', 'cancelled');
    const stops = req.stop.filter((s) => s.length > 0);
    const ids: number[] = [];
    let emitted = 0;
    let text = '';
    let stopAt = -1;
    const gen = await generateTokens(
      this.decoder,
      built.ids,
      {
        maxTokens,
        temperature: req.temperature,
        topK: req.topK,
        topP: req.topP,
        repetitionPenalty: req.repetitionPenalty,
        seed: req.seed,
        stopTokens: req.messages ? this.chatStops : this.stopIds,
        deadlineMs: req.deadlineMs,
      },
      {
        signal: opts.signal,
        deadlineArmed: () => text.includes('\n'),
        onToken: (id) => {
          ids.push(id);
          text = this.tokenizer.decode(ids, { skipSpecial: true });
          for (const s of stops) {
            const i = text.indexOf(s, Math.max(0, emitted - s.length));
            if (i >= 0 && (stopAt < 0 || i < stopAt)) stopAt = i;
          }
          if (stopAt >= 0) {
            text = text.slice(0, stopAt);
            if (text.length > emitted) opts.onText?.(text.slice(emitted));
            emitted = text.length;
            return true;
          }
          // Hold back an incomplete character (decoded as U+FFFD) and a possible stop-string start.
          let safe = text.length - heldBack(text, stops);
          while (safe > emitted && text.charCodeAt(safe - 1) === 0xfffd) safe--;
          if (safe > emitted) {
            opts.onText?.(text.slice(emitted, safe));
            emitted = safe;
          }
        },
      },
    );
    if (stopAt < 0 && text.length > emitted) opts.onText?.(text.slice(emitted));
    return result(text, gen.finishReason, {
      completionTokens: gen.tokens.length,
      reusedTokens: gen.reusedTokens,
      prefillMs: gen.prefillMs,
      decodeMs: gen.decodeMs,
    });
  }
}
