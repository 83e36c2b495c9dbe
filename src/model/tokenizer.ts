// Tokenizers from tokenizer.json + tokenizer_config.json through @huggingface/tokenizers,
// with the special tokens the engine needs: BOS (only where the config adds it), EOS,
// and the model family's fill-in-the-middle tokens.
import { ModelError } from './errors.ts';
import { Tokenizer } from '@huggingface/tokenizers';
import { readJson, type ModelFiles } from './storage/files.ts';
import { chatTemplateOf, specialTokenText } from './chat-template.ts';

/** Model families by their fill-in-the-middle tokens. */
export type FimFamily = 'qwen' | 'starcoder' | 'deepseek' | 'codellama';

export interface FimTokens {
  family: FimFamily;
  prefix: number;
  suffix: number;
  middle: number;
  pad?: number;
  fileSep?: number;
  repoName?: number;
}

/** Each family's FIM token strings (prefix, suffix, middle, pad). */
const FIM_FAMILIES: Array<{
  family: FimFamily;
  prefix: string;
  suffix: string;
  middle: string;
  pad?: string;
  fileSep?: string;
  repoName?: string;
}> = [
  {
    family: 'qwen',
    prefix: '<|fim_prefix|>',
    suffix: '<|fim_suffix|>',
    middle: '<|fim_middle|>',
    pad: '<|fim_pad|>',
    fileSep: '<|file_sep|>',
    repoName: '<|repo_name|>',
  },
  {
    family: 'starcoder',
    prefix: '<fim_prefix>',
    suffix: '<fim_suffix>',
    middle: '<fim_middle>',
    pad: '<fim_pad>',
    fileSep: '<file_sep>',
    repoName: '<repo_name>',
  },
  { family: 'deepseek', prefix: '<｜fim▁begin｜>', suffix: '<｜fim▁hole｜>', middle: '<｜fim▁end｜>' },
  { family: 'codellama', prefix: '▁<PRE>', suffix: '▁<SUF>', middle: '▁<MID>', pad: '▁<EOT>' },
];

interface TokenizerJson {
  added_tokens?: Array<{ id: number; content: string }>;
  model?: { vocab?: Record<string, number> };
}
interface TokenizerConfigJson {
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
}

/** StarCoder's commit tokens, for families that have them. */
export interface CommitTokens {
  before: number;
  msg: number;
  after: number;
}

export class ModelTokenizer {
  readonly bos?: number;
  readonly eos?: number;
  readonly addBos: boolean;
  readonly fim?: FimTokens;
  /** `<commit_before>`, `<commit_msg>`, `<commit_after>` when the vocabulary has them (StarCoder). */
  readonly commit?: CommitTokens;
  /** Largest token id + 1. */
  readonly vocabSize: number;
  /** The chat template (tokenizer_config.json), for instruct models; and the BOS/EOS text it uses. */
  readonly chatTemplate?: string;
  readonly bosText?: string;
  readonly eosText?: string;
  private tok: Tokenizer;
  private ids: Map<string, number>;

  constructor(tokenizerJson: object, tokenizerConfig: object) {
    const tj = tokenizerJson as TokenizerJson;
    const tc = tokenizerConfig as TokenizerConfigJson;
    this.tok = new Tokenizer(tokenizerJson, tokenizerConfig);
    this.ids = new Map(Object.entries(tj.model?.vocab ?? {}));
    for (const t of tj.added_tokens ?? []) this.ids.set(t.content, t.id);
    let max = -1;
    for (const id of this.ids.values()) max = Math.max(max, id); // (a spread of 150k ids overflows the stack)
    this.vocabSize = max + 1;
    const name = (t: TokenizerConfigJson['bos_token']) => (typeof t === 'string' ? t : (t?.content ?? undefined));
    const bosName = name(tc.bos_token);
    const eosName = name(tc.eos_token);
    this.bos = bosName ? this.ids.get(bosName) : undefined;
    this.eos = eosName ? this.ids.get(eosName) : undefined;
    this.addBos = tc.add_bos_token === true && this.bos !== undefined;
    this.chatTemplate = chatTemplateOf(tc);
    this.bosText = specialTokenText(tc.bos_token);
    this.eosText = specialTokenText(tc.eos_token);
    const [before, msg, after] = ['<commit_before>', '<commit_msg>', '<commit_after>'].map((t) => this.ids.get(t));
    if (before !== undefined && msg !== undefined && after !== undefined) this.commit = { before, msg, after };
    for (const f of FIM_FAMILIES) {
      const [p, s, m] = [this.ids.get(f.prefix), this.ids.get(f.suffix), this.ids.get(f.middle)];
      if (p !== undefined && s !== undefined && m !== undefined) {
        this.fim = {
          family: f.family,
          prefix: p,
          suffix: s,
          middle: m,
          pad: f.pad ? this.ids.get(f.pad) : undefined,
          fileSep: f.fileSep ? this.ids.get(f.fileSep) : undefined,
          repoName: f.repoName ? this.ids.get(f.repoName) : undefined,
        };
        break;
      }
    }
  }

  /** Loads tokenizer.json (+ config); given the model's vocab size, checks the pair fits. */
  static async load(files: ModelFiles, modelVocabSize?: number): Promise<ModelTokenizer> {
    const [tj, tc] = await Promise.all([
      readJson<object>(files, 'tokenizer.json'),
      readJson<object>(files, 'tokenizer_config.json').catch(() => ({})),
    ]);
    const tok = new ModelTokenizer(tj, tc);
    // An id past the embedding table would read out of bounds on the GPU (garbage, not an error).
    if (modelVocabSize !== undefined && tok.vocabSize > modelVocabSize)
      throw new ModelError(
        'TOKENIZER_MISMATCH',
        `tokenizer.json in ${files.label} has token ids up to ${tok.vocabSize - 1}, but config.json's vocab_size is ${modelVocabSize}: the tokenizer belongs to another model. Use the tokenizer that came with these weights.`,
        { file: 'tokenizer.json' },
      );
    return tok;
  }

  /** Token ids of `text`; BOS first only when the model's tokenizer config adds it. */
  encode(text: string, opts: { bos?: boolean } = {}): number[] {
    const ids = this.tok.encode(text, { add_special_tokens: false }).ids;
    return (opts.bos ?? this.addBos) && this.bos !== undefined ? [this.bos, ...ids] : ids;
  }

  decode(ids: number[], opts: { skipSpecial?: boolean } = {}): string {
    return this.tok.decode(ids, { skip_special_tokens: opts.skipSpecial ?? false });
  }

  tokenId(token: string): number | undefined {
    return this.ids.get(token);
  }
}
