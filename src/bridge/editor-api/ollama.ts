// The Ollama API as Continue and the `ollama` npm client use it: /api/generate with
// `suffix` (server-side FIM) or `raw` prompts, NDJSON streaming by default ending with a
// done:true line; /api/tags, /api/show (a template with .Suffix and the `insert`
// capability, so Continue turns FIM on) and /api/version.
import type { CompletionRequest, CompletionResult } from '../../serve/types.ts';
import {
  MODEL_NAME,
  bool,
  clampTokens,
  int,
  obj,
  sendJson,
  startNdjson,
  str,
  type Route,
  type RouteContext,
  samplingOf,
  streamCompletion,
  type StreamEvents,
} from './http.ts';
import { namedAdapter } from './openai.ts';
import { modelNames } from '../../serve/model-names.ts';

/** The Ollama API version whose shapes these routes follow. */
export const OLLAMA_API_VERSION = '0.12.0';
const TAG = `${MODEL_NAME}:latest`;
const TEMPLATE = '{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>{{- else }}{{ .Prompt }}{{- end }}';

function details(ctx: RouteContext) {
  const s = ctx.relay.stats().backend?.serving;
  return {
    parent_model: '',
    format: 'safetensors',
    family: s?.fim ?? 'homecoder',
    families: [s?.fim ?? 'homecoder'],
    parameter_size: s ? `${(s.parameters / 1e9).toFixed(2)}B` : '',
    quantization_level: 'BF16',
  };
}

/** The closing fields of an Ollama answer (generate and chat). */
export function doneFields(r: CompletionResult, started: number) {
  const ns = (ms: number) => Math.round(ms * 1e6);
  return {
    done: true,
    done_reason: r.finishReason === 'stop' ? 'stop' : r.finishReason === 'cancelled' ? 'cancelled' : 'length',
    context: [],
    total_duration: ns(performance.now() - started),
    load_duration: 0,
    prompt_eval_count: r.promptTokens,
    prompt_eval_duration: ns(r.prefillMs),
    eval_count: r.completionTokens,
    eval_duration: ns(r.decodeMs),
  };
}

/** Streams an Ollama answer as NDJSON; a failure mid-stream is an `error` line. */
export function streamOllama(ctx: RouteContext, req: CompletionRequest, ev: Pick<StreamEvents, 'piece' | 'last'>): Promise<void> {
  return streamCompletion(ctx, req, startNdjson, { ...ev, failed: (message) => ({ error: message }) });
}

async function generate(ctx: RouteContext): Promise<void> {
  const started = performance.now();
  const body = await ctx.body();
  const model = str(body, 'model') || TAG;
  const prompt = str(body, 'prompt') ?? '';
  const suffix = str(body, 'suffix');
  bool(body, 'raw'); // a raw prompt is served as is (its FIM tokens are recognised) either way
  const stream = bool(body, 'stream') ?? true;
  const o = obj(body, 'options');
  const head = () => ({ model, created_at: new Date().toISOString() });
  if (!prompt && !suffix) {
    // Ollama answers an empty prompt by loading the model: done at once.
    sendJson(ctx.res, 200, { ...head(), response: '', done: true, done_reason: 'load' });
    return;
  }
  const req: CompletionRequest = {
    ...(suffix !== undefined ? { prefix: prompt, suffix } : { prompt }),
    maxTokens: clampTokens(int(o, 'num_predict', -2, 1e9)),
    ...samplingOf(o, true),
    ...namedAdapter(ctx, model),
  };
  if (stream) {
    await streamOllama(ctx, req, {
      piece: (d) => ({ ...head(), response: d, done: false }),
      last: (r) => [{ ...head(), response: '', ...doneFields(r, started) }],
    });
    return;
  }
  const r = await ctx.complete(req);
  sendJson(ctx.res, 200, { ...head(), response: r.text, ...doneFields(r, started) });
}

export const ollamaRoutes: Route[] = [
  { method: 'POST', path: '/api/generate', errors: 'string', handle: generate },
  {
    method: 'GET',
    path: '/api/tags',
    errors: 'string',
    handle: async (ctx) =>
      sendJson(ctx.res, 200, {
        models: modelNames(ctx.relay.stats().backend?.serving?.named).map((n) => {
          const name = n.includes(':') ? n : TAG;
          return { name, model: name, modified_at: new Date(0).toISOString(), size: 0, digest: '0'.repeat(64), details: details(ctx) };
        }),
      }),
  },
  {
    method: 'POST',
    path: '/api/show',
    errors: 'string',
    handle: async (ctx) => {
      await ctx.body(); // `model` or `name` (Continue sends name): there is one model, whatever it is called
      const s = ctx.relay.stats().backend?.serving;
      sendJson(ctx.res, 200, {
        modelfile: `FROM ${TAG}\nTEMPLATE """${TEMPLATE}"""\n`,
        parameters: '',
        template: TEMPLATE,
        details: details(ctx),
        model_info: {
          'general.architecture': s?.fim ?? 'homecoder',
          'general.parameter_count': s?.parameters ?? 0,
          'homecoder.context_length': s?.contextLength ?? 0,
        },
        capabilities: ['completion', 'insert'],
        modified_at: new Date(0).toISOString(),
      });
    },
  },
  {
    method: 'GET',
    path: '/api/version',
    errors: 'string',
    open: true,
    handle: async (ctx) => sendJson(ctx.res, 200, { version: OLLAMA_API_VERSION }),
  },
];
