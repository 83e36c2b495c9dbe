// A Hugging Face byte-level BPE tokenizer (tokenizer.json + tokenizer_config.json) as GGUF
// tokenizer metadata, as llama.cpp's convert_hf_to_gguf.py writes it (get_vocab_base +
// SpecialVocab): every id up to the model's vocab_size gets a token (gaps become
// "[PAD{id}]", UNUSED), added tokens are CONTROL when special or when they look special
// (<|…|>), else USER_DEFINED; merges as "a b"; the pre-tokenizer named by its split regex.
import { ExportError } from './errors.ts';
import { bool, str, u32, type GgufValue } from './gguf.ts';

/** llama_token_type values. */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

interface TokenizerJson {
  added_tokens?: Array<{ id: number; content: string; special?: boolean }>;
  pre_tokenizer?: { type?: string; pretokenizers?: Array<{ type?: string; pattern?: { Regex?: string } }>; pattern?: { Regex?: string } };
  model?: { type?: string; vocab?: Record<string, number>; merges?: Array<string | [string, string]>; byte_fallback?: boolean };
}
interface TokenizerConfigJson {
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  pad_token?: string | { content: string } | null;
  unk_token?: string | { content: string } | null;
  chat_template?: string | Array<{ name: string; template: string }>;
}

/** Split regexes of the byte-level BPE families llama.cpp knows, with its pre-tokenizer name. */
const PRE_TOKENIZERS: Array<{ regex: string; pre: string }> = [
  {
    pre: 'qwen2',
    regex:
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  },
  {
    pre: 'llama-bpe',
    regex:
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  },
];

/** Family FIM tokens → llama.cpp's keys. */
const FIM_KEYS: Array<[string, string[]]> = [
  ['tokenizer.ggml.fim_pre_token_id', ['<|fim_prefix|>', '<fim_prefix>']],
  ['tokenizer.ggml.fim_suf_token_id', ['<|fim_suffix|>', '<fim_suffix>']],
  ['tokenizer.ggml.fim_mid_token_id', ['<|fim_middle|>', '<fim_middle>']],
  ['tokenizer.ggml.fim_pad_token_id', ['<|fim_pad|>', '<fim_pad>']],
  ['tokenizer.ggml.fim_rep_token_id', ['<|repo_name|>', '<repo_name>']],
  ['tokenizer.ggml.fim_sep_token_id', ['<|file_sep|>', '<file_sep>']],
];

const content = (t: TokenizerConfigJson['bos_token']) => (typeof t === 'string' ? t : (t?.content ?? undefined));

const looksSpecial = (t: string) => (t.startsWith('<|') && t.endsWith('|>')) || (t.startsWith('<｜') && t.endsWith('｜>'));

export function preTokenizerName(tj: TokenizerJson): string {
  const p = tj.pre_tokenizer;
  const splits = (p?.type === 'Sequence' ? (p.pretokenizers ?? []) : p ? [p] : []).filter((s) => s.type === 'Split');
  const regexes = splits.map((s) => s.pattern?.Regex);
  const known = regexes.length === 1 ? PRE_TOKENIZERS.find((k) => k.regex === regexes[0]) : undefined;
  if (!known)
    throw new ExportError(
      'EXPORT_UNSUPPORTED_TOKENIZER',
      `tokenizer.json splits text with ${regexes.length ? regexes.map((r) => JSON.stringify(r)).join(' then ') : 'no Split pre-tokenizer'}, which the GGUF export does not know; llama.cpp would tokenize it differently. GGUF export supports the Qwen2 and Llama 3 byte-level BPE tokenizers; export the merged Hugging Face folder instead and convert it with llama.cpp's convert_hf_to_gguf.py.`,
      { file: 'tokenizer.json' },
    );
  return known.pre;
}

/** The tokenizer.* keys for a model whose embedding table has `vocabSize` rows. */
export function ggufTokenizerMetadata(tokenizerJson: object, tokenizerConfig: object, vocabSize: number): Map<string, GgufValue> {
  const tj = tokenizerJson as TokenizerJson;
  const tc = tokenizerConfig as TokenizerConfigJson;
  if (tj.model?.type !== 'BPE' || tj.model.byte_fallback)
    throw new ExportError(
      'EXPORT_UNSUPPORTED_TOKENIZER',
      `tokenizer.json is a ${tj.model?.byte_fallback ? 'SentencePiece-style (byte-fallback) ' : ''}${tj.model?.type ?? 'unknown'} tokenizer; the GGUF export writes byte-level BPE tokenizers (Qwen2, Llama 3 families). Export the merged Hugging Face folder and convert it with llama.cpp's convert_hf_to_gguf.py.`,
      { file: 'tokenizer.json' },
    );
  const pre = preTokenizerName(tj);
  const tokens: string[] = new Array(vocabSize);
  const types = new Int32Array(vocabSize);
  for (const [text, id] of Object.entries(tj.model.vocab ?? {}))
    if (id < vocabSize) {
      tokens[id] = text;
      types[id] = TOKEN_TYPE.NORMAL;
    }
  const ids = new Map<string, number>(Object.entries(tj.model.vocab ?? {}));
  for (const t of tj.added_tokens ?? []) {
    ids.set(t.content, t.id);
    if (t.id >= vocabSize)
      throw new ExportError(
        'EXPORT_UNSUPPORTED_TOKENIZER',
        `tokenizer.json has token ${JSON.stringify(t.content)} with id ${t.id}, past the model's vocab_size ${vocabSize}: the tokenizer belongs to another model.`,
        { file: 'tokenizer.json' },
      );
    tokens[t.id] = t.content;
    types[t.id] = t.special || looksSpecial(t.content) ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.USER_DEFINED;
  }
  for (let i = 0; i < vocabSize; i++)
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TOKEN_TYPE.UNUSED;
    }
  const merges = (tj.model.merges ?? []).map((m) => (Array.isArray(m) ? m.join(' ') : m));
  const md = new Map<string, GgufValue>([
    ['tokenizer.ggml.model', str('gpt2')],
    ['tokenizer.ggml.pre', str(pre)],
    ['tokenizer.ggml.tokens', { type: 'string[]', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'i32[]', value: types }],
    ['tokenizer.ggml.merges', { type: 'string[]', value: merges }],
  ]);
  const special = (key: string, name: string | undefined) => {
    const id = name === undefined ? undefined : ids.get(name);
    if (id !== undefined) md.set(key, u32(id));
  };
  special('tokenizer.ggml.bos_token_id', content(tc.bos_token));
  special('tokenizer.ggml.eos_token_id', content(tc.eos_token));
  special('tokenizer.ggml.unknown_token_id', content(tc.unk_token));
  special('tokenizer.ggml.padding_token_id', content(tc.pad_token));
  md.set('tokenizer.ggml.add_bos_token', bool(tc.add_bos_token === true));
  if (tc.add_eos_token !== undefined) md.set('tokenizer.ggml.add_eos_token', bool(tc.add_eos_token === true));
  for (const [key, names] of FIM_KEYS) {
    const id = names.map((n) => ids.get(n)).find((v) => v !== undefined);
    if (id !== undefined) md.set(key, u32(id));
  }
  const template = Array.isArray(tc.chat_template) ? tc.chat_template.find((t) => t.name === 'default')?.template : tc.chat_template;
  if (template) md.set('tokenizer.chat_template', str(template));
  return md;
}
