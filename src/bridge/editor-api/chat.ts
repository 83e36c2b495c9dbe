// Chat routes: OpenAI /v1/chat/completions (SSE `chat.completion.chunk`s or one
// `chat.completion`) and Ollama /api/chat (NDJSON or one answer). The messages are checked
// here and rendered in the backend with the model's chat template; `model` picks a named
// adapter (serve/model-names.ts). Queuing, cancellation and security are the completion
// routes' own (index.ts).
import { randomUUID } from 'node:crypto';
import { chatMessagesProblem, type ChatMessage } from '../../serve/chat.ts';
import { CompletionError } from '../../serve/errors.ts';
import { adapterForModel, DEFAULT_MODEL } from '../../serve/model-names.ts';
import type { CompletionRequest, CompletionResult } from '../../serve/types.ts';
import { finishReason, streamOpenAi, usage } from './openai.ts';
import { doneFields, streamOllama } from './ollama.ts';
import { HttpError, bool, clampTokens, int, obj, sendJson, str, type Route, type RouteContext, samplingOf } from './http.ts';

/** OpenAI content may be a list of parts; only text parts are understood. */
function textOf(content: unknown, i: number): unknown {
  if (!Array.isArray(content)) return content;
  return content
    .map((p) => {
      if (p && typeof p === 'object' && (p as { type?: unknown }).type === 'text' && typeof (p as { text?: unknown }).text === 'string')
        return (p as { text: string }).text;
      throw new HttpError(400, `messages[${i}].content: only text parts are supported (no images or audio).`);
    })
    .join('');
}

/** The request's messages, checked: roles, text content, count. OpenAI's `developer` role is the system's. */
function messagesOf(body: Record<string, unknown>): ChatMessage[] {
  const raw = body.messages;
  const list = Array.isArray(raw)
    ? raw.map((m, i) => {
        if (!m || typeof m !== 'object' || Array.isArray(m)) return m;
        const o = m as Record<string, unknown>;
        if (Array.isArray(o.images) && o.images.length) throw new HttpError(400, `messages[${i}] has images: this model reads text only.`);
        return { role: o.role === 'developer' ? 'system' : o.role, content: textOf(o.content, i) };
      })
    : raw;
  const problem = chatMessagesProblem(list);
  if (problem) throw new HttpError(400, problem);
  return list as ChatMessage[];
}

/** The named adapter `model` picks (404 listing the names for an unknown one); chat needs a chat template (400). */
function servingFor(ctx: RouteContext, model: string | undefined): { adapter?: string } {
  const serving = ctx.relay.stats().backend?.serving;
  if (!serving) return {}; // the relay answers 503 with what to do
  if (serving.chat === false)
    throw new CompletionError(
      'NO_CHAT_TEMPLATE',
      'The model serving now has no chat template: serve an instruct model (e.g. Qwen2.5-Coder-Instruct) for chat, or use /v1/completions or /api/generate.',
    );
  const adapter = adapterForModel(model, serving.named ?? []);
  return adapter === undefined ? {} : { adapter };
}

/** Options that would change what the answer is, which this server does not do: refused, not ignored. */
function refuseUnsupported(body: Record<string, unknown>, keys: string[]): void {
  for (const k of keys) {
    const v = body[k];
    if (v === undefined || v === null || v === false || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    if (k === 'response_format' && (v as { type?: unknown }).type === 'text') continue;
    throw new HttpError(400, `"${k}" is not supported: the answer is plain text (no tools, JSON mode or log-probabilities).`);
  }
}

async function openaiChat(ctx: RouteContext): Promise<void> {
  const body = await ctx.body();
  int(body, 'n', 1, 1);
  refuseUnsupported(body, ['tools', 'functions', 'response_format', 'logprobs', 'audio']);
  const messages = messagesOf(body);
  const model = str(body, 'model') || DEFAULT_MODEL;
  const req: CompletionRequest = {
    messages,
    ...servingFor(ctx, model),
    maxTokens: clampTokens(int(body, 'max_completion_tokens', -1, 1e9) ?? int(body, 'max_tokens', -1, 1e9)),
    ...samplingOf(body),
  };
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const head = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'homecoder' };
  const chunk = (delta: Record<string, string>, finish: string | null) => ({
    ...head,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  if (bool(body, 'stream')) {
    const includeUsage = bool(obj(body, 'stream_options'), 'include_usage') ?? false;
    await streamOpenAi(ctx, req, {
      first: [chunk({ role: 'assistant', content: '' }, null)],
      piece: (d) => chunk({ content: d }, null),
      last: (r) => [chunk({}, finishReason(r)), ...(includeUsage ? [{ ...head, choices: [], usage: usage(r) }] : [])],
    });
    return;
  }
  const r = await ctx.complete(req);
  sendJson(ctx.res, 200, {
    id,
    object: 'chat.completion',
    created,
    model,
    system_fingerprint: 'homecoder',
    choices: [{ index: 0, message: { role: 'assistant', content: r.text, refusal: null }, logprobs: null, finish_reason: finishReason(r) }],
    usage: usage(r),
  });
}

async function ollamaChat(ctx: RouteContext): Promise<void> {
  const started = performance.now();
  const body = await ctx.body();
  const model = str(body, 'model') || `${DEFAULT_MODEL}:latest`;
  const stream = bool(body, 'stream') ?? true;
  const head = () => ({ model, created_at: new Date().toISOString() });
  if (Array.isArray(body.messages) && body.messages.length === 0) {
    // Ollama answers an empty conversation by loading the model: done at once.
    sendJson(ctx.res, 200, { ...head(), message: { role: 'assistant', content: '' }, done: true, done_reason: 'load' });
    return;
  }
  refuseUnsupported(body, ['tools', 'format']);
  const messages = messagesOf(body);
  const o = obj(body, 'options');
  const req: CompletionRequest = {
    messages,
    ...servingFor(ctx, model),
    maxTokens: clampTokens(int(o, 'num_predict', -2, 1e9)),
    ...samplingOf(o),
  };
  const message = (content: string) => ({ role: 'assistant', content });
  const last = (r: CompletionResult) => doneFields(r, started);
  if (stream) {
    await streamOllama(ctx, req, {
      piece: (d) => ({ ...head(), message: message(d), done: false }),
      last: (r) => [{ ...head(), message: message(''), ...last(r) }],
    });
    return;
  }
  const r = await ctx.complete(req);
  sendJson(ctx.res, 200, { ...head(), message: message(r.text), ...last(r) });
}

export const chatRoutes: Route[] = [
  { method: 'POST', path: '/v1/chat/completions', errors: 'openai', handle: openaiChat },
  { method: 'POST', path: '/chat/completions', errors: 'openai', handle: openaiChat },
  { method: 'POST', path: '/api/chat', errors: 'string', handle: ollamaChat },
];
