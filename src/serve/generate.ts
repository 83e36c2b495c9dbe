// The token loop of one completion on a Decoder: prefill (reusing a cached prefix), then
// sample, stop on an end token, a caller's stop (stop strings are checked on text by the
// caller), the token budget, a deadline, or cancellation — checked between tokens.
import type { Decoder } from '../gpu/decoder.ts';
import { Rng } from '../random.ts';
import { isAbort } from '../progress.ts';
import { sampleToken, type SamplingParams } from './sampling.ts';

export interface GenerateParams extends SamplingParams {
  maxTokens: number;
  /** Token ids that end the completion (EOS, end-of-turn); not emitted. */
  stopTokens: readonly number[];
  /** Milliseconds of generation after the first token before stopping (llama.cpp's t_max_predict_ms). */
  deadlineMs?: number;
  seed?: number;
}

export type FinishReason = 'stop' | 'length' | 'deadline' | 'cancelled';

export interface GenerateResult {
  tokens: number[];
  finishReason: FinishReason;
  promptTokens: number;
  reusedTokens: number;
  /** Milliseconds: prompt processing (to the first token), and decoding the rest. */
  prefillMs: number;
  decodeMs: number;
}

/**
 * Generates after `prompt`. `onToken` receives each emitted token and may return true to
 * stop (a stop string matched). A cancelled signal ends the loop with 'cancelled'. The
 * deadline applies only once `deadlineArmed()` says so (llama.cpp: a newline was generated).
 */
export async function generateTokens(
  decoder: Decoder,
  prompt: readonly number[],
  p: GenerateParams,
  opts: { signal?: AbortSignal; onToken?: (id: number) => boolean | undefined; deadlineArmed?: () => boolean } = {},
): Promise<GenerateResult> {
  const t0 = performance.now();
  // Without a seed, each request samples differently (as OpenAI and llama.cpp do).
  const rng = new Rng(p.seed ?? Math.floor(Math.random() * 2 ** 32));
  const tokens: number[] = [];
  const stop = new Set(p.stopTokens);
  const budget = Math.min(p.maxTokens, decoder.contextLength - prompt.length);
  const result = (finishReason: FinishReason, reusedTokens: number, tFirst: number): GenerateResult => ({
    tokens,
    finishReason,
    promptTokens: prompt.length,
    reusedTokens,
    prefillMs: tFirst - t0,
    decodeMs: performance.now() - tFirst,
  });
  if (opts.signal?.aborted) return result('cancelled', 0, t0);
  let pre: Awaited<ReturnType<Decoder['prefill']>>;
  try {
    pre = await decoder.prefill(prompt, opts.signal);
  } catch (err) {
    if (isAbort(err)) return result('cancelled', 0, performance.now());
    throw err;
  }
  const { logits: first, reused } = pre;
  const tFirst = performance.now();
  let logits = first;
  for (;;) {
    if (opts.signal?.aborted) return result('cancelled', reused, tFirst);
    if (tokens.length >= budget) return result('length', reused, tFirst);
    if (p.deadlineMs !== undefined && tokens.length > 0 && performance.now() - tFirst > p.deadlineMs && (opts.deadlineArmed?.() ?? true))
      return result('deadline', reused, tFirst);
    const id = sampleToken(logits, p, rng);
    if (stop.has(id)) return result('stop', reused, tFirst);
    tokens.push(id);
    if (opts.onToken?.(id) === true) return result('stop', reused, tFirst);
    if (tokens.length >= budget) return result('length', reused, tFirst);
    if (opts.signal?.aborted) return result('cancelled', reused, tFirst);
    try {
      logits = await decoder.step(id, opts.signal);
    } catch (err) {
      if (isAbort(err)) return result('cancelled', reused, tFirst);
      throw err;
    }
  }
}
