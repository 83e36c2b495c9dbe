// Chat for inference: a request's messages rendered with the model's own chat template
// (tokenizer_config.json's chat_template, through @huggingface/jinja) with the generation
// prompt added, the model's BOS/EOS text, and the tokens that end an assistant's turn as
// stops. Older turns are dropped (the system prompt kept) when the conversation does not fit.
import { Template } from '@huggingface/jinja';
import { END_OF_TURN_TOKENS } from '../model/chat-template.ts';
import type { ModelTokenizer } from '../model/tokenizer.ts';
import { CompletionError } from './errors.ts';
import { stopTokenIds } from './fim.ts';

export type ChatRole = 'system' | 'user' | 'assistant';
export const CHAT_ROLES: readonly ChatRole[] = ['system', 'user', 'assistant'];

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** Most messages one request may carry (bodies are bounded in bytes as well). */
export const MAX_CHAT_MESSAGES = 512;

/** Why `v` is not a list of chat messages, or undefined when it is one. */
export function chatMessagesProblem(v: unknown): string | undefined {
  if (!Array.isArray(v) || v.length === 0) return '"messages" must be a non-empty list of {"role", "content"} objects.';
  if (v.length > MAX_CHAT_MESSAGES) return `"messages" has ${v.length} messages; at most ${MAX_CHAT_MESSAGES} are accepted.`;
  for (const [i, m] of v.entries()) {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return `messages[${i}] must be an object with "role" and "content".`;
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (!CHAT_ROLES.includes(role as ChatRole))
      return `messages[${i}].role must be one of ${CHAT_ROLES.join(', ')} (got ${JSON.stringify(role) ?? 'nothing'}).`;
    if (typeof content !== 'string') return `messages[${i}].content must be a string.`;
  }
  if ((v as ChatMessage[]).at(-1)!.role === 'assistant')
    return 'The last message must be from the user (or the system): the model answers it.';
  return undefined;
}

const compiled = new WeakMap<ModelTokenizer, Template>();

function templateOf(tok: ModelTokenizer): Template {
  const cached = compiled.get(tok);
  if (cached) return cached;
  if (!tok.chatTemplate)
    throw new CompletionError(
      'NO_CHAT_TEMPLATE',
      'This model has no chat template (tokenizer_config.json has no chat_template): serve an instruct model for chat, or use /v1/completions or /api/generate for plain completions.',
    );
  let t: Template;
  try {
    t = new Template(tok.chatTemplate);
  } catch (err) {
    throw new CompletionError(
      'NO_CHAT_TEMPLATE',
      `The model's chat template could not be parsed (${(err as Error).message}): use another model for chat.`,
    );
  }
  compiled.set(tok, t);
  return t;
}

/** The prompt text for `messages`, ending where the assistant's answer starts. */
export function renderChatPrompt(tok: ModelTokenizer, messages: readonly ChatMessage[]): string {
  try {
    return templateOf(tok).render({
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      add_generation_prompt: true,
      bos_token: tok.bosText ?? '',
      eos_token: tok.eosText ?? '',
    });
  } catch (err) {
    if (err instanceof CompletionError) throw err;
    throw new CompletionError('BAD_REQUEST', `The model's chat template refused these messages: ${(err as Error).message}`);
  }
}

/** Token ids a chat answer stops at: EOS, the family's stops and every end-of-turn token the vocabulary has. */
export function chatStopIds(tok: ModelTokenizer, eos?: number | number[]): number[] {
  const out = new Set(stopTokenIds(tok, eos));
  for (const t of END_OF_TURN_TOKENS) {
    const id = tok.tokenId(t);
    if (id !== undefined) out.add(id);
  }
  return [...out];
}

/**
 * The prompt's ids within `budget` tokens: the whole conversation, else without its oldest
 * turns (a leading system message stays). Too long even with the last message alone is a
 * typed error that says what to send instead.
 */
export function buildChatPrompt(
  tok: ModelTokenizer,
  messages: readonly ChatMessage[],
  budget: number,
): { ids: number[]; truncated: boolean } {
  const system = messages[0]?.role === 'system' ? [messages[0]] : [];
  let rest = messages.slice(system.length);
  for (;;) {
    const ids = tok.encode(renderChatPrompt(tok, [...system, ...rest]), { bos: false });
    if (ids.length <= budget) return { ids, truncated: rest.length < messages.length - system.length };
    if (rest.length <= 1)
      throw new CompletionError(
        'PROMPT_TOO_LONG',
        `The last message is ${ids.length} tokens with the template; the context leaves ${budget} for the prompt: send a shorter message or a smaller max_tokens.`,
      );
    rest = rest.slice(1);
  }
}
