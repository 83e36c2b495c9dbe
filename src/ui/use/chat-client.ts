// The Chat panel's side of the bridge: the same OpenAI routes an editor uses (/v1/models,
// /v1/chat/completions with SSE), so the panel shows exactly what editors get; and the split
// of an answer into text and fenced code blocks for display. Without a bridge the panel asks
// the engine worker instead (chat-in-tab.ts).
import { API_KEY_STORAGE } from './api-key.ts';

/** How a request reaches the bridge: `fetch` on its own origin, or the shell's bridgeFetch (a paired bridge). */
export type Requester = (path: string, init?: RequestInit) => Promise<Response>;

export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

function headers(): Record<string, string> {
  const key = localStorage.getItem(API_KEY_STORAGE);
  return { 'content-type': 'application/json', 'x-homecoder-client': 'chat-panel', ...(key ? { authorization: `Bearer ${key}` } : {}) };
}

async function failure(res: Response): Promise<Error> {
  const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  return new Error(body.error?.message ?? `HTTP ${res.status}`);
}

/** The model names served (the default first, then each named adapter). */
export async function listModels(request: Requester = fetch): Promise<string[]> {
  const res = await request('/v1/models', { headers: headers(), cache: 'no-store' });
  if (!res.ok) throw await failure(res);
  return ((await res.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
}

/**
 * Streams an answer to `messages` from `model`, calling `onText` with each piece; resolves
 * with the finish reason ('cancelled' after `signal` aborts: what came so far stays).
 */
export async function streamChat(
  model: string,
  messages: ChatTurn[],
  opts: { signal: AbortSignal; onText: (delta: string) => void; maxTokens?: number; request?: Requester },
): Promise<string> {
  let res: Response;
  try {
    res = await (opts.request ?? fetch)('/v1/chat/completions', {
      method: 'POST',
      signal: opts.signal,
      headers: headers(),
      body: JSON.stringify({ model, messages, stream: true, max_tokens: opts.maxTokens ?? 512, temperature: 0 }),
    });
  } catch (e) {
    if (opts.signal.aborted) return 'cancelled';
    throw e;
  }
  if (!res.ok || !res.body) throw await failure(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let finish = 'stop';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.replace(/^data: /, '');
        if (data === '[DONE]') return finish;
        const chunk = JSON.parse(data) as {
          error?: { message: string };
          choices?: Array<{ delta: { content?: string }; finish_reason: string | null }>;
        };
        if (chunk.error) throw new Error(chunk.error.message);
        const c = chunk.choices?.[0];
        if (c?.delta.content) opts.onText(c.delta.content);
        if (c?.finish_reason) finish = c.finish_reason;
      }
    }
  } catch (e) {
    if (opts.signal.aborted) return 'cancelled';
    throw e;
  }
  return opts.signal.aborted ? 'cancelled' : finish;
}

export interface AnswerPart {
  kind: 'text' | 'code';
  text: string;
  /** The fence's language, for code. */
  lang?: string;
}

/** An answer split at ``` fences; an unclosed fence (still streaming) is code to the end. */
export function answerParts(answer: string): AnswerPart[] {
  const parts: AnswerPart[] = [];
  const re = /```([\w+#.-]*)[^\n]*\n?([\s\S]*?)(?:```|$)/g;
  let at = 0;
  for (const m of answer.matchAll(re)) {
    if (m.index > at) parts.push({ kind: 'text', text: answer.slice(at, m.index) });
    parts.push({ kind: 'code', text: m[2].replace(/\n$/, ''), lang: m[1] || undefined });
    at = m.index + m[0].length;
  }
  if (at < answer.length) parts.push({ kind: 'text', text: answer.slice(at) });
  return parts.filter((p) => p.kind === 'code' || p.text.trim() !== '');
}
