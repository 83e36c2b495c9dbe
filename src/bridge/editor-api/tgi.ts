// Text Generation Inference (llm-vscode's tgi backend): POST /generate {inputs,
// parameters} → one {generated_text} object; and the Hugging Face Inference API shape
// (llm-vscode's huggingface backend): POST /models/{model} → [{generated_text}].
import type { CompletionRequest } from '../../serve/types.ts';
import { HttpError, clampTokens, int, num, obj, sendJson, stopList, type Route, type RouteContext } from './http.ts';

async function request(ctx: RouteContext): Promise<CompletionRequest> {
  const body = await ctx.body();
  const inputs = body.inputs;
  if (typeof inputs !== 'string') throw new HttpError(400, '"inputs" must be a string.');
  const p = obj(body, 'parameters');
  const sample = p.do_sample === true;
  return {
    prompt: inputs,
    maxTokens: clampTokens(int(p, 'max_new_tokens', -1, 1e9)),
    temperature: sample || p.temperature !== undefined ? (num(p, 'temperature', 0, 2) ?? 1) : 0,
    topP: num(p, 'top_p', 0, 1) ?? 1,
    topK: int(p, 'top_k', 0, 1e6) ?? 0,
    repetitionPenalty: num(p, 'repetition_penalty', 0.1, 10),
    stop: stopList(p, 'stop'),
    seed: int(p, 'seed', 0, 2 ** 53),
  };
}

export const tgiRoutes: Route[] = [
  {
    method: 'POST',
    path: '/generate',
    errors: 'string',
    handle: async (ctx) => sendJson(ctx.res, 200, { generated_text: (await ctx.complete(await request(ctx))).text }),
  },
  {
    method: 'POST',
    path: /^\/models\/.+$/,
    errors: 'string',
    handle: async (ctx) => sendJson(ctx.res, 200, [{ generated_text: (await ctx.complete(await request(ctx))).text }]),
  },
];
