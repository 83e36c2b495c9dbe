// Fill-in-the-middle prompts per model family, the reverse (recognising a raw prompt that
// already carries a family's FIM tokens), and fitting a prompt into the context by
// dropping the text farthest from the cursor: the start of the prefix, the end of the
// suffix, then whole extra-context files.
import type { FimFamily, ModelTokenizer } from '../model/tokenizer.ts';
import { pathComment, withFinalNewline } from '../model/repo-format.ts';

export type { FimFamily };

export interface FimFormat {
  family: FimFamily;
  /** As written in prompt text, in prefix-suffix-middle order. */
  prefix: string;
  suffix: string;
  middle: string;
  /** Repository-level context: a file separator (`<|file_sep|>name\ncontent`). */
  fileSep?: string;
  /** Tokens that must never appear in a completion (end of text, padding, separators). */
  stops: string[];
}

export const FIM_FORMATS: Record<FimFamily, FimFormat> = {
  qwen: {
    family: 'qwen',
    prefix: '<|fim_prefix|>',
    suffix: '<|fim_suffix|>',
    middle: '<|fim_middle|>',
    fileSep: '<|file_sep|>',
    stops: [
      '<|endoftext|>',
      '<|fim_pad|>',
      '<|file_sep|>',
      '<|repo_name|>',
      '<|im_end|>',
      '<|fim_prefix|>',
      '<|fim_suffix|>',
      '<|fim_middle|>',
    ],
  },
  starcoder: {
    family: 'starcoder',
    prefix: '<fim_prefix>',
    suffix: '<fim_suffix>',
    middle: '<fim_middle>',
    fileSep: '<file_sep>',
    stops: ['<|endoftext|>', '<fim_pad>', '<file_sep>', '<repo_name>', '<fim_prefix>', '<fim_suffix>', '<fim_middle>'],
  },
  deepseek: {
    family: 'deepseek',
    prefix: '<｜fim▁begin｜>',
    suffix: '<｜fim▁hole｜>',
    middle: '<｜fim▁end｜>',
    stops: ['<｜end▁of▁sentence｜>', '<|EOT|>', '<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>'],
  },
  codellama: {
    family: 'codellama',
    prefix: '<PRE> ',
    suffix: ' <SUF>',
    middle: ' <MID>',
    stops: ['</s>', '▁<EOT>', '<EOT>', '▁<PRE>', '▁<SUF>', '▁<MID>'],
  },
};

/** The FIM prompt text for a family (what a client that templates itself would send). */
export function fimText(family: FimFamily, prefix: string, suffix: string): string {
  const f = FIM_FORMATS[family];
  return `${f.prefix}${prefix}${f.suffix}${suffix}${f.middle}`;
}

export interface ParsedFim {
  family: FimFamily;
  /** Text before the prefix token (repository context, file separators). */
  preamble: string;
  prefix: string;
  suffix: string;
}

/**
 * Recognises a raw prompt written in any family's FIM format (prefix-suffix-middle, the
 * middle token last, as llm-vscode and Continue send them). Undefined when it is plain text.
 */
export function parseFimPrompt(text: string): ParsedFim | undefined {
  for (const f of Object.values(FIM_FORMATS)) {
    const p = text.indexOf(f.prefix.trim());
    const s = text.indexOf(f.suffix.trim(), p + 1);
    const m = text.lastIndexOf(f.middle.trim());
    if (p < 0 || s < 0 || m < s) continue;
    if (text.slice(m + f.middle.trim().length).trim() !== '') continue; // the middle token ends the prompt
    const pEnd = p + f.prefix.trim().length;
    const sEnd = s + f.suffix.trim().length;
    let prefix = text.slice(pEnd, s);
    let suffix = text.slice(sEnd, m);
    if (f.family === 'codellama') {
      // "<PRE> {prefix} <SUF>{suffix} <MID>": the spaces belong to the tokens.
      if (prefix.startsWith(' ')) prefix = prefix.slice(1);
      if (prefix.endsWith(' ')) prefix = prefix.slice(0, -1);
      if (suffix.endsWith(' ')) suffix = suffix.slice(0, -1);
    }
    return { family: f.family, preamble: text.slice(0, p), prefix, suffix };
  }
  return undefined;
}

export interface ExtraContext {
  filename?: string;
  text: string;
}

export interface PromptInput {
  /** Plain or raw prompt (used when `prefix` is undefined). */
  prompt?: string;
  /** Server-side FIM: the text before and after the cursor. */
  prefix?: string;
  suffix?: string;
  /** Other files for repository-level context (llama.cpp's input_extra). */
  extra?: ExtraContext[];
  /**
   * Tokens the extra files may take before the prefix and suffix fill the rest (repository
   * context the server added); unset = the prefix and suffix come first, extras fill what is left.
   */
  extraBudget?: number;
}

export interface BuiltPrompt {
  ids: number[];
  /** How the prompt was made. */
  mode: 'fim' | 'raw-fim' | 'plain';
  /** Some text did not fit the context and was dropped (farthest from the cursor first). */
  truncated: boolean;
}

/** Token ids the completion must stop at: EOS and the family's separators present in the vocabulary. */
export function stopTokenIds(tok: ModelTokenizer, eos?: number | number[]): number[] {
  const out = new Set<number>();
  for (const e of [eos ?? [], tok.eos ?? []].flat()) out.add(e);
  const family = tok.fim?.family;
  const names = family ? FIM_FORMATS[family].stops : ['<|endoftext|>', '</s>', '<|EOT|>'];
  for (const n of names) {
    const id = tok.tokenId(n);
    if (id !== undefined) out.add(id);
  }
  return [...out];
}

/**
 * The prompt's token ids, at most `budget` tokens. Server-side FIM uses the model's own
 * format; a raw prompt with FIM tokens is served as is when it is in the model's format and
 * fits, else re-written in the model's format; plain text keeps its end.
 */
export function buildPrompt(tok: ModelTokenizer, input: PromptInput, budget: number): BuiltPrompt {
  if (budget < 4) throw new RangeError(`the context leaves only ${budget} tokens for the prompt`);
  const bos = tok.addBos && tok.bos !== undefined ? [tok.bos] : [];
  const fim = tok.fim;
  if (input.prefix !== undefined || input.suffix !== undefined) {
    if (!fim) return plain(tok, bos, input.prefix ?? '', budget);
    return fimIds(tok, bos, input.prefix ?? '', input.suffix ?? '', input.extra ?? [], budget, 'fim', input.extraBudget ?? 0);
  }
  const text = input.prompt ?? '';
  const parsed = parseFimPrompt(text);
  if (parsed && fim) {
    const asIs = tok.encode(text);
    if (parsed.family === fim.family && asIs.length <= budget) return { ids: asIs, mode: 'raw-fim', truncated: false };
    return fimIds(tok, bos, parsed.prefix, parsed.suffix, [], budget, 'raw-fim', 0);
  }
  return plain(tok, bos, text, budget);
}

function plain(tok: ModelTokenizer, bos: number[], text: string, budget: number): BuiltPrompt {
  const ids = tok.encode(text, { bos: false });
  const room = budget - bos.length;
  const kept = ids.length > room ? ids.slice(ids.length - room) : ids;
  const out = [...bos, ...kept];
  if (out.length === 0) out.push(tok.bos ?? tok.eos ?? 0); // an empty prompt still needs one position
  return { ids: out, mode: 'plain', truncated: ids.length > room };
}

/**
 * One extra file as prompt ids: after the family's file separator (`<|file_sep|>path\ncontent`),
 * or, for a family without one, as a path comment and the content at the start of the prefix.
 */
export function extraIds(tok: ModelTokenizer, e: ExtraContext): number[] {
  const sep = tok.fim?.fileSep;
  if (sep !== undefined) return [sep, ...tok.encode(`${e.filename ?? 'file'}\n${e.text}`, { bos: false })];
  return tok.encode(`${pathComment(e.filename ?? 'file')}${withFinalNewline(e.text)}\n`, { bos: false });
}

function fimIds(
  tok: ModelTokenizer,
  bos: number[],
  prefix: string,
  suffix: string,
  extra: ExtraContext[],
  budget: number,
  mode: 'fim' | 'raw-fim',
  extraBudget: number,
): BuiltPrompt {
  const fim = tok.fim!;
  const pre = tok.encode(prefix, { bos: false });
  const suf = tok.encode(suffix, { bos: false });
  let room = budget - bos.length - 3;
  const extraIdsOut: number[] = [];
  let truncated = false;
  const addExtras = (limit: number) => {
    for (const e of extra) {
      const ids = extraIds(tok, e);
      if (ids.length > Math.min(limit, room)) {
        truncated = true;
        continue;
      }
      extraIdsOut.push(...ids);
      room -= ids.length;
      limit -= ids.length;
    }
  };
  // Server-added repository context gets its share first; editors' extras fill what is left.
  if (extraBudget > 0) addExtras(Math.min(extraBudget, Math.floor(room / 2)));
  // The suffix gets up to a quarter of the room (more when the prefix is short), the prefix the rest.
  const sufKeep = Math.min(suf.length, Math.max(Math.floor(room / 4), room - pre.length));
  const preKeep = Math.min(pre.length, room - sufKeep);
  room -= sufKeep + preKeep;
  truncated ||= sufKeep < suf.length || preKeep < pre.length;
  if (extraBudget <= 0) addExtras(room);
  // Families without a file separator carry the context inside the prefix, before the file's text.
  const ids =
    fim.fileSep !== undefined
      ? [...bos, ...extraIdsOut, fim.prefix, ...pre.slice(pre.length - preKeep), fim.suffix, ...suf.slice(0, sufKeep), fim.middle]
      : [...bos, fim.prefix, ...extraIdsOut, ...pre.slice(pre.length - preKeep), fim.suffix, ...suf.slice(0, sufKeep), fim.middle];
  return { ids, mode, truncated };
}
