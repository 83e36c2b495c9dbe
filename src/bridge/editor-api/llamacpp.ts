// llama.cpp server routes as llama.vim, llama.vscode and Continue's llama.cpp provider use
// them: /infill (input_prefix, input_suffix, input_extra, prompt = the current line up to
// the cursor, n_predict, t_max_predict_ms), /completion, both JSON or SSE. Answers are
// compact JSON with "content" first: llama.vim matches `"content"\s*:"` in the raw text.
import type { CompletionRequest, CompletionResult } from '../../serve/types.ts';
import {
  HttpError,
  MODEL_NAME,
  bool,
  clampTokens,
  int,
  num,
  sendJson,
  startSse,
  stopList,
  str,
  type Route,
  type RouteContext,
  streamCompletion,
} from './http.ts';

function stopType(r: CompletionResult): string {
  return r.finishReason === 'stop' ? 'eos' : r.finishReason === 'cancelled' ? 'none' : 'limit';
}

function final(r: CompletionResult, content: string) {
  return {
    content,
    stop: true,
    stop_type: stopType(r),
    model: MODEL_NAME,
    tokens_predicted: r.completionTokens,
    tokens_evaluated: r.promptTokens,
    tokens_cached: r.reusedTokens,
    truncated: r.truncated,
    timings: {
      prompt_n: r.promptTokens - r.reusedTokens,
      prompt_ms: r.prefillMs,
      predicted_n: r.completionTokens,
      predicted_ms: r.decodeMs,
      predicted_per_second: r.decodeMs > 0 ? (r.completionTokens / r.decodeMs) * 1000 : 0,
    },
  };
}

function sampling(body: Record<string, unknown>): Omit<CompletionRequest, 'prompt' | 'prefix' | 'suffix' | 'extra'> {
  return {
    maxTokens: clampTokens(int(body, 'n_predict', -1, 1e9)),
    temperature: num(body, 'temperature', 0, 2) ?? 0,
    topP: num(body, 'top_p', 0, 1) ?? 1,
    topK: int(body, 'top_k', 0, 1e6) ?? 0,
    repetitionPenalty: num(body, 'repeat_penalty', 0.1, 10),
    stop: stopList(body, 'stop'),
    deadlineMs: int(body, 't_max_predict_ms', 0, 1e9) || undefined,
    seed: int(body, 'seed', -(2 ** 53), 2 ** 53),
  };
}

async function answer(ctx: RouteContext, body: Record<string, unknown>, req: CompletionRequest): Promise<void> {
  if (bool(body, 'stream')) {
    await streamCompletion(ctx, req, startSse, {
      piece: (d) => ({ content: d, stop: false }),
      last: (r) => [final(r, '')],
      failed: (message) => ({ error: { code: 500, message, type: 'server_error' } }),
    });
    return;
  }
  const r = await ctx.complete(req);
  sendJson(ctx.res, 200, final(r, r.text));
}

async function infill(ctx: RouteContext): Promise<void> {
  const body = await ctx.body();
  const extraRaw = body.input_extra ?? [];
  if (!Array.isArray(extraRaw)) throw new HttpError(400, '"input_extra" must be a list of {text, filename}.');
  const extra = extraRaw.map((e, i) => {
    if (!e || typeof e !== 'object' || typeof (e as { text?: unknown }).text !== 'string')
      throw new HttpError(400, `"input_extra[${i}]" must be an object with a string "text".`);
    const f = (e as { filename?: unknown }).filename;
    return { text: (e as { text: string }).text, filename: typeof f === 'string' ? f : undefined };
  });
  // `prompt` is the current line up to the cursor (llama.cpp puts it after FIM_MID): it belongs to the prefix.
  const prefix = (str(body, 'input_prefix') ?? '') + (str(body, 'prompt') ?? '');
  await answer(ctx, body, { prefix, suffix: str(body, 'input_suffix') ?? '', extra, ...sampling(body) });
}

async function completion(ctx: RouteContext): Promise<void> {
  const body = await ctx.body();
  const prompt = body.prompt;
  if (typeof prompt !== 'string') throw new HttpError(400, '"prompt" must be a string.');
  await answer(ctx, body, { prompt, ...sampling(body) });
}

export const llamacppRoutes: Route[] = [
  { method: 'POST', path: '/infill', errors: 'llamacpp', handle: infill },
  { method: 'POST', path: '/completion', errors: 'llamacpp', handle: completion },
];
