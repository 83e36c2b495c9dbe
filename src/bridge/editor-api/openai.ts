// OpenAI-compatible completions (Continue's openai/lmstudio providers, llm-vscode's openai
// backend, the `openai` npm client, FauxPilot-style engines paths) and Tabby, which posts
// to the same /v1/completions path: told apart by the body (`segments` vs `prompt`).
import { randomUUID } from 'node:crypto';
import type { CompletionRequest, CompletionResult } from '../../serve/types.ts';
import { adapterForModel, modelNames } from '../../serve/model-names.ts';
import {
  HttpError,
  MODEL_NAME,
  bool,
  clampTokens,
  int,
  num,
  obj,
  sendJson,
  startSse,
  str,
  type Route,
  type RouteContext,
  samplingOf,
  streamCompletion,
  type StreamEvents,
} from './http.ts';

/** The named adapter a request's `model` picks ({} for the default); unknown `homecoder:<name>` is a 404. */
export function namedAdapter(ctx: RouteContext, model: string | undefined): { adapter?: string } {
  const adapter = adapterForModel(model, ctx.relay.stats().backend?.serving?.named ?? []);
  return adapter === undefined ? {} : { adapter };
}

export function finishReason(r: CompletionResult): string {
  return r.finishReason === 'deadline' ? 'length' : r.finishReason;
}

function promptOf(body: Record<string, unknown>): string {
  const p = body.prompt;
  if (p === undefined || p === null) return '';
  if (typeof p === 'string') return p;
  if (Array.isArray(p) && p.length === 1 && typeof p[0] === 'string') return p[0];
  throw new HttpError(400, '"prompt" must be a string (token-id and batched prompts are not supported).');
}

function openaiRequest(body: Record<string, unknown>): CompletionRequest {
  const n = int(body, 'n', 1, 1);
  void n;
  if (bool(body, 'echo')) throw new HttpError(400, '"echo" is not supported.');
  const prompt = promptOf(body);
  const suffix = str(body, 'suffix');
  return {
    ...(suffix !== undefined ? { prefix: prompt, suffix } : { prompt }),
    maxTokens: clampTokens(int(body, 'max_tokens', -1, 1e9)),
    ...samplingOf(body),
  };
}

function tabbyRequest(body: Record<string, unknown>): CompletionRequest {
  const seg = obj(body, 'segments');
  const prefix = str(seg, 'prefix') ?? '';
  const suffix = str(seg, 'suffix');
  const extra: CompletionRequest['extra'] = [];
  for (const key of ['relevant_snippets_from_changed_files', 'relevant_snippets_from_recently_opened_files']) {
    const list = seg[key];
    if (Array.isArray(list))
      for (const s of list)
        if (s && typeof s === 'object' && typeof (s as { body?: unknown }).body === 'string')
          extra.push({ filename: String((s as { filepath?: unknown }).filepath ?? 'file'), text: (s as { body: string }).body });
  }
  return {
    prefix,
    suffix: suffix ?? '',
    extra,
    filename: str(seg, 'filepath'),
    maxTokens: clampTokens(int(body, 'max_tokens', -1, 1e9)),
    temperature: num(body, 'temperature', 0, 2) ?? 0,
    topP: 1,
    topK: 0,
    stop: [],
    seed: int(body, 'seed', -(2 ** 53), 2 ** 53),
  };
}

async function completions(ctx: RouteContext): Promise<void> {
  const body = await ctx.body();
  const tabby = body.segments !== undefined;
  const req = tabby
    ? tabbyRequest(body)
    : { ...openaiRequest(body), ...namedAdapter(ctx, typeof body.model === 'string' ? body.model : undefined) };
  const id = `cmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const model = typeof body.model === 'string' && body.model ? body.model : MODEL_NAME;
  const chunk = (text: string, finish: string | null) => ({
    id,
    object: 'text_completion',
    created,
    model,
    choices: [{ text, index: 0, finish_reason: finish, logprobs: null }],
  });
  if (!tabby && bool(body, 'stream')) {
    await streamOpenAi(ctx, req, {
      piece: (d) => chunk(d, null),
      last: (r) => [{ ...chunk('', finishReason(r)), usage: usage(r) }],
    });
    return;
  }
  const r = await ctx.complete(req);
  sendJson(ctx.res, 200, { ...chunk(r.text, finishReason(r)), usage: usage(r) });
}

/** Streams an OpenAI answer as SSE: an error event for a failure mid-stream, then [DONE]. */
export function streamOpenAi(ctx: RouteContext, req: CompletionRequest, ev: Omit<StreamEvents, 'failed' | 'trailer'>): Promise<void> {
  return streamCompletion(ctx, req, startSse, {
    ...ev,
    failed: (message) => ({ error: { message, type: 'server_error' } }),
    trailer: ['[DONE]'],
  });
}

export function usage(r: CompletionResult) {
  return { prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens };
}

export const openaiRoutes: Route[] = [
  { method: 'POST', path: '/v1/completions', errors: 'openai', handle: completions },
  { method: 'POST', path: '/completions', errors: 'openai', handle: completions },
  { method: 'POST', path: /^\/v1\/engines\/[^/]+\/completions$/, errors: 'openai', handle: completions },
  {
    method: 'GET',
    path: '/v1/models',
    errors: 'openai',
    handle: async (ctx) =>
      sendJson(ctx.res, 200, {
        object: 'list',
        data: modelNames(ctx.relay.stats().backend?.serving?.named).map((id) => ({
          id,
          object: 'model',
          created: 0,
          owned_by: 'homecoder',
        })),
      }),
  },
];

export const tabbyRoutes: Route[] = [
  {
    method: 'GET|POST',
    path: '/v1/health',
    errors: 'openai',
    handle: async (ctx) => {
      const s = ctx.relay.stats().backend?.serving;
      sendJson(ctx.res, 200, {
        model: MODEL_NAME,
        device: 'webgpu',
        arch: s?.base ?? 'none',
        cpu_info: '',
        cpu_count: 1,
        cuda_devices: [],
        version: { build_date: '', build_timestamp: '', git_sha: '', git_describe: 'homecoder' },
        homecoder: { serving: s ?? null },
      });
    },
  },
  {
    method: 'POST',
    path: '/v1/events',
    errors: 'openai',
    handle: async (ctx) => {
      await ctx.body().catch(() => ({}));
      sendJson(ctx.res, 200, {});
    },
  },
];
