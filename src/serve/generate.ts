// The token loop of one completion on a Decoder: prefill (reusing a cached prefix), then
// sample, stop on an end token, a caller's stop (stop strings are checked on text by the
// caller), the token budget, a deadline, or cancellation — checked between tokens.
// The candidates a draw needs are selected on the GPU and only they are read back
// (src/gpu/sampler.ts); a draw that needs every logit reads them all (sampling.ts: candidatePlan).
import type { Decoder } from '../gpu/decoder.ts';
import type { Selection } from '../gpu/sampler.ts';
import { Rng } from '../random.ts';
import { isAbort } from '../progress.ts';
import {
  applyRepetitionPenalty,
  candidatePlan,
  penaltyTokens,
  PENALTY_WINDOW,
  sampleCandidates,
  sampleToken,
  type Candidates,
  type SamplingParams,
} from './sampling.ts';

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
  /** Bytes read back from the GPU (logits or candidates) for all the tokens drawn. */
  bytesReadBack: number;
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
  const read0 = decoder.readBackBytes;
  const result = (finishReason: FinishReason, reusedTokens: number, tFirst: number): GenerateResult => ({
    tokens,
    finishReason,
    promptTokens: prompt.length,
    reusedTokens,
    prefillMs: tFirst - t0,
    decodeMs: performance.now() - tFirst,
    bytesReadBack: decoder.readBackBytes - read0,
  });
  const vocab = decoder.model.config.vocabSize;
  const plan = candidatePlan(p, vocab);
  const penalty = p.repetitionPenalty ?? 1;
  const context = () => [...prompt.slice(-PENALTY_WINDOW), ...tokens];
  // What the GPU selects for the next draw, given the tokens so far.
  const selection = (): Selection | undefined =>
    plan && {
      ...plan,
      temperature: p.temperature,
      penalty: penalty === 1 ? undefined : { value: penalty, ids: penaltyTokens(context()) },
    };
  // The next position's logits (plan undefined) or candidates.
  type Next = { logits: Float32Array } | { candidates: Candidates };
  const draw = async (next: Next): Promise<number> => {
    if ('candidates' in next) {
      const id = sampleCandidates(next.candidates, p, rng);
      if (id !== undefined) return id;
      return sampleToken(await decoder.readLogits(), p, rng); // penalty already applied on the GPU
    }
    applyRepetitionPenalty(next.logits, penaltyTokens(context()), penalty);
    return sampleToken(next.logits, p, rng);
  };
  if (opts.signal?.aborted) return result('cancelled', 0, t0);
  let next: Next;
  let reused: number;
  try {
    const sel = selection();
    if (sel) {
      const r = await decoder.prefillSelect(prompt, sel, opts.signal);
      next = { candidates: r.candidates };
      reused = r.reused;
    } else {
      const r = await decoder.prefill(prompt, opts.signal);
      next = { logits: r.logits };
      reused = r.reused;
    }
  } catch (err) {
    if (isAbort(err)) return result('cancelled', 0, performance.now());
    throw err;
  }
  const tFirst = performance.now();
  for (;;) {
    if (opts.signal?.aborted) return result('cancelled', reused, tFirst);
    if (tokens.length >= budget) return result('length', reused, tFirst);
    if (p.deadlineMs !== undefined && tokens.length > 0 && performance.now() - tFirst > p.deadlineMs && (opts.deadlineArmed?.() ?? true))
      return result('deadline', reused, tFirst);
    const id = await draw(next);
    if (stop.has(id)) return result('stop', reused, tFirst);
    tokens.push(id);
    if (opts.onToken?.(id) === true) return result('stop', reused, tFirst);
    if (tokens.length >= budget) return result('length', reused, tFirst);
    if (opts.signal?.aborted) return result('cancelled', reused, tFirst);
    try {
      const sel = selection();
      next = sel ? { candidates: await decoder.stepSelect(id, sel, opts.signal) } : { logits: await decoder.step(id, opts.signal) };
    } catch (err) {
      if (isAbort(err)) return result('cancelled', reused, tFirst);
      throw err;
    }
  }
}
