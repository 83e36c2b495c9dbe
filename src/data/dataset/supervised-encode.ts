// Supervised examples as training tokens with a loss mask. Conversations (and pairs, for a
// model with a chat template) are rendered with the model's own template, turn by turn: the
// text before each assistant turn is the template rendered up to it with the generation prompt
// (exactly what serving sends), and the turn is what the full render adds after it. So the
// mask marks an answer's content and the token that ends the turn (<|im_end|>, <|EOT|>…) and
// never a role header, whatever the template looks like. Pairs for a base model are plain
// prompt + completion + EOS.
import { Template } from '@huggingface/jinja';
import { DatasetError } from '../errors.ts';
import { chatTemplateOf, type ChatMessage } from './chat.ts';
import type { DocTokenizer, Segment } from './fim.ts';
import { parseSupervisedFiles, type SupervisedExample, type SupervisedFile } from './supervised.ts';
import type { SupervisedInput } from './build.ts';

/** A model's chat template with the strings it is rendered with. */
export interface ChatFormat {
  template: Template;
  bos: string;
  eos: string;
  /** Special tokens that can end an assistant turn (the first one after the answer ends what is trained). */
  stops: string[];
}

/** Turn-end tokens of the common templates; those the tokenizer knows count as stops. */
const TURN_ENDS = ['<|im_end|>', '<|EOT|>', '<|eot_id|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '</s>', '<｜end▁of▁sentence｜>'];

const tokenName = (t: unknown): string =>
  typeof t === 'string' ? t : typeof (t as { content?: unknown })?.content === 'string' ? (t as { content: string }).content : '';

/** The chat format from tokenizer_config.json, or undefined when the model has no chat template. */
export function chatFormatOf(tokenizerConfig: unknown, tok: { tokenId(token: string): number | undefined }): ChatFormat | undefined {
  const source = chatTemplateOf(tokenizerConfig);
  if (!source) return undefined;
  let template: Template;
  try {
    template = new Template(source);
  } catch (err) {
    throw new DatasetError('BAD_CHAT_TEMPLATE', `The model's chat template could not be parsed: ${(err as Error).message}`);
  }
  const tc = tokenizerConfig as { bos_token?: unknown; eos_token?: unknown };
  const eos = tokenName(tc.eos_token);
  const stops = [...new Set([eos, ...TURN_ENDS])].filter((s) => s && tok.tokenId(s) !== undefined);
  return { template, bos: tokenName(tc.bos_token), eos, stops };
}

export function renderChat(f: ChatFormat, messages: ChatMessage[], addGenerationPrompt: boolean): string {
  return f.template.render({ messages, add_generation_prompt: addGenerationPrompt, bos_token: f.bos, eos_token: f.eos });
}

/** A piece of rendered text and whether its tokens carry loss. */
export interface TextPiece {
  text: string;
  train: boolean;
}

/** Where the trained part of an assistant turn ends: after the first stop token past the answer's content. */
function answerEnd(turn: string, content: string, stops: string[]): number {
  const at = content ? turn.indexOf(content) : -1;
  const from = at >= 0 ? at + content.length : 0;
  let best = -1;
  let end = turn.length;
  for (const s of stops) {
    const k = turn.indexOf(s, from);
    if (k >= 0 && (best < 0 || k < best)) [best, end] = [k, k + s.length];
  }
  // No stop token: the answer's own text (a template without one cannot teach the model to stop).
  return best >= 0 ? end : at >= 0 ? from : turn.length;
}

/**
 * A conversation as rendered pieces: the text up to each assistant turn (not trained unless
 * `answersOnly` is false), the turn's content and end token (trained), what follows it.
 */
export function chatPieces(f: ChatFormat, messages: ChatMessage[], answersOnly: boolean): TextPiece[] {
  const pieces: TextPiece[] = [];
  const notPrefix = () =>
    new DatasetError(
      'CHAT_TEMPLATE_NOT_INCREMENTAL',
      "The model's chat template renders earlier turns differently once later turns follow, so the answers cannot be found in the text; train this model on pairs, or with loss on all tokens.",
    );
  let done = '';
  for (const [i, m] of messages.entries()) {
    if (m.role !== 'assistant') continue;
    const before = renderChat(f, messages.slice(0, i), true);
    const after = renderChat(f, messages.slice(0, i + 1), false);
    if (!before.startsWith(done) || !after.startsWith(before)) throw notPrefix();
    const turn = after.slice(before.length);
    const cut = answerEnd(turn, m.content, f.stops);
    pieces.push(
      { text: before.slice(done.length), train: false },
      { text: turn.slice(0, cut), train: true },
      { text: turn.slice(cut), train: false },
    );
    done = after;
  }
  const full = renderChat(f, messages, false);
  if (!full.startsWith(done)) throw notPrefix();
  pieces.push({ text: full.slice(done.length), train: false });
  return pieces.filter((p) => p.text).map((p) => (answersOnly ? p : { ...p, train: true }));
}

/**
 * One example as token segments. Each piece is tokenized on its own: the prompt as serving
 * tokenizes it, the answer as the model generates it. No BOS is added to a rendered
 * conversation (a template that wants one writes bos_token itself, as Hugging Face renders).
 */
export function encodeExample(tok: DocTokenizer, f: ChatFormat | undefined, ex: SupervisedExample, answersOnly: boolean): Segment[] {
  const enc = (p: TextPiece): Segment => ({ ids: tok.encode(p.text, { bos: false }), train: p.train });
  if (f) {
    const messages: ChatMessage[] =
      ex.kind === 'chat'
        ? ex.messages
        : [
            { role: 'user', content: ex.prompt },
            { role: 'assistant', content: ex.completion },
          ];
    // Pairs are trained on the completion only: the prompt is the function's input.
    return chatPieces(f, messages, ex.kind === 'pair' || answersOnly).map(enc);
  }
  if (ex.kind === 'chat')
    throw new DatasetError(
      'NO_CHAT_TEMPLATE',
      "This model's tokenizer has no chat template, so conversations cannot be rendered. Use an instruct model, or prompt/completion pairs (trained as prompt + completion + EOS).",
    );
  const head: Segment[] = tok.addBos && tok.bos !== undefined ? [{ ids: [tok.bos], train: false }] : [];
  const tail: Segment[] = tok.eos !== undefined ? [{ ids: [tok.eos], train: true }] : [];
  return [...head, enc({ text: ex.prompt, train: false }), enc({ text: ex.completion, train: true }), ...tail];
}

/** The user's supervised files as the dataset builder takes them: examples, bad lines, the model's chat format. */
export function supervisedInput(
  files: SupervisedFile[],
  tokenizerConfig: unknown,
  tok: { tokenId(token: string): number | undefined },
): SupervisedInput {
  const { examples, bad } = parseSupervisedFiles(files);
  return { examples, bad, format: chatFormatOf(tokenizerConfig, tok) };
}
