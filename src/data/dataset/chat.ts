// Conversational training data (the Unsloth recipe's synthetic Q&A): a JSONL file of
// {"messages":[{"role","content"},...]} rendered with the model's own chat template
// (tokenizer_config.json's chat_template) through @huggingface/jinja.
import { Template } from '@huggingface/jinja';
import { DatasetError } from '../errors.ts';

export interface ChatMessage {
  role: string;
  content: string;
}

/** Parses JSONL conversations; a bad line is a typed error naming the line. */
export function parseChatJsonl(text: string, name = 'the chat file'): ChatMessage[][] {
  const out: ChatMessage[][] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      throw new DatasetError(
        'BAD_CHAT',
        `${name} line ${i + 1} is not JSON (${(err as Error).message}). Each line must be {"messages":[{"role":"user","content":"..."}, ...]}.`,
      );
    }
    const msgs = (v as { messages?: unknown }).messages;
    const ok = Array.isArray(msgs) && msgs.length > 0 && msgs.every((m) => typeof m?.role === 'string' && typeof m?.content === 'string');
    if (!ok) throw new DatasetError('BAD_CHAT', `${name} line ${i + 1} has no "messages" array of {"role","content"} strings.`);
    out.push(msgs as ChatMessage[]);
  });
  return out;
}

// The template lookup is shared with serving (src/model/chat-template.ts).
export { chatTemplateOf } from '../../model/chat-template.ts';

export function renderChats(template: string, chats: ChatMessage[][], special: { bos?: string; eos?: string } = {}): string[] {
  let tpl: Template;
  try {
    tpl = new Template(template);
  } catch (err) {
    throw new DatasetError('BAD_CHAT', `The model's chat template could not be parsed: ${(err as Error).message}`);
  }
  return chats.map((messages) =>
    tpl.render({ messages, add_generation_prompt: false, bos_token: special.bos ?? '', eos_token: special.eos ?? '' }),
  );
}
