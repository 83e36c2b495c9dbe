// A model's chat template (tokenizer_config.json's `chat_template`, a Jinja string, or a list
// of named ones) and the special-token strings templates refer to. Shared by training data
// (data/dataset/chat.ts) and serving (serve/chat.ts).

/** The chat template from tokenizer_config.json (a string, or a list of named templates). */
export function chatTemplateOf(tokenizerConfig: unknown): string | undefined {
  const t = (tokenizerConfig as { chat_template?: unknown } | null | undefined)?.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return (t.find((x) => x?.name === 'default') ?? t[0])?.template;
  return undefined;
}

/** A special token as tokenizer_config.json writes it: a string or {content}. */
export function specialTokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/** Tokens that end an assistant's turn in the chat templates of the supported families. */
export const END_OF_TURN_TOKENS = ['<|im_end|>', '<|eot_id|>', '<|EOT|>', '<|end|>', '<end_of_turn>', '<｜end▁of▁sentence｜>'];
