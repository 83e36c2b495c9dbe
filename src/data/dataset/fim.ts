// Fill-in-the-middle for training (HF personal-copilot recipe, with Refact's line-aware
// cut points): a file becomes prefix/middle/suffix and is laid out in PSM or SPM order
// with the model family's FIM tokens (src/model/tokenizer.ts holds the token table).
// Sentinel tokens are never trained on; the content and the EOS after it are.
import type { Rng } from '../../random.ts';
import type { CommitTokens, FimTokens } from '../../model/tokenizer.ts';

export interface FimSettings {
  /** Share of files turned into FIM examples (the rest stay plain left-to-right). */
  fimRate: number;
  /** Share of FIM examples in SPM order (the rest PSM). */
  spmRate: number;
  /** Share of cut points at line boundaries (the rest anywhere between characters). */
  lineSplitRate: number;
}

export const DEFAULT_FIM: FimSettings = { fimRate: 0.5, spmRate: 0.5, lineSplitRate: 0.9 };

export interface FimPieces {
  prefix: string;
  middle: string;
  suffix: string;
}

/** A run of tokens that is trained on (content) or not (sentinels, BOS). */
export interface Segment {
  ids: number[];
  train: boolean;
}

export interface DocTokenizer {
  encode(text: string, opts?: { bos?: boolean }): number[];
  decode(ids: number[]): string;
  readonly eos?: number;
  readonly bos?: number;
  readonly addBos: boolean;
  readonly fim?: FimTokens;
  readonly commit?: CommitTokens;
}

export type FimOrder = 'psm' | 'spm';

/** Line starts of `text` (0, every offset after '\n', and the end). */
function lineBoundaries(text: string): number[] {
  const out = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) if (i + 1 < text.length) out.push(i + 1);
  out.push(text.length);
  return out;
}

/** Does offset i fall between the two halves of a surrogate pair? */
const insidePair = (text: string, i: number) => i > 0 && i < text.length && (text.charCodeAt(i) & 0xfc00) === 0xdc00;

/** Two cut points (a ≤ b): line boundaries with probability lineSplitRate, else any characters. */
export function fimCuts(text: string, rng: Rng, lineSplitRate: number): [number, number] {
  let a: number;
  let b: number;
  if (rng.next() < lineSplitRate) {
    const lines = lineBoundaries(text);
    a = lines[Math.floor(rng.next() * lines.length)];
    b = lines[Math.floor(rng.next() * lines.length)];
  } else {
    a = Math.floor(rng.next() * (text.length + 1));
    b = Math.floor(rng.next() * (text.length + 1));
    if (insidePair(text, a)) a--;
    if (insidePair(text, b)) b--;
  }
  return a <= b ? [a, b] : [b, a];
}

export function fimPieces(text: string, [a, b]: [number, number]): FimPieces {
  return { prefix: text.slice(0, a), middle: text.slice(a, b), suffix: text.slice(b) };
}

/** The segments of one FIM example in `order` (EOS not included). */
export function fimSegments(tok: DocTokenizer, fim: FimTokens, p: FimPieces, order: FimOrder): Segment[] {
  const enc = (s: string) => ({ ids: s ? tok.encode(s, { bos: false }) : [], train: true });
  const sentinel = (...ids: number[]) => ({ ids, train: false });
  return order === 'psm'
    ? [sentinel(fim.prefix), enc(p.prefix), sentinel(fim.suffix), enc(p.suffix), sentinel(fim.middle), enc(p.middle)]
    : // SPM as in the HF recipe: <pre><suf> suffix <mid> prefix middle.
      [sentinel(fim.prefix, fim.suffix), enc(p.suffix), sentinel(fim.middle), enc(p.prefix + p.middle)];
}

export interface EncodedDocument {
  segments: Segment[];
  /** 'plain' when left-to-right. */
  kind: 'plain' | FimOrder;
  pieces?: FimPieces;
}

/** A file's text as content segments, plain or as a FIM example (no BOS, no EOS). */
export function encodeBody(tok: DocTokenizer, text: string, rng: Rng, s: FimSettings): EncodedDocument {
  // Draw every random number whether or not it is used, so one file's choice never shifts the next file's.
  const doFim = rng.next() < s.fimRate;
  const spm = rng.next() < s.spmRate;
  const cuts = fimCuts(text, rng, s.lineSplitRate);
  if (!tok.fim || !doFim) return { segments: [{ ids: tok.encode(text, { bos: false }), train: true }], kind: 'plain' };
  const pieces = fimPieces(text, cuts);
  const order: FimOrder = spm ? 'spm' : 'psm';
  return { segments: fimSegments(tok, tok.fim, pieces, order), kind: order, pieces };
}

/** BOS when the tokenizer adds one (not trained on). */
export function bosSegments(tok: DocTokenizer): Segment[] {
  return tok.addBos && tok.bos !== undefined ? [{ ids: [tok.bos], train: false }] : [];
}

/** EOS (trained on: the model learns where a document ends). */
export function eosSegments(tok: DocTokenizer): Segment[] {
  return tok.eos !== undefined ? [{ ids: [tok.eos], train: true }] : [];
}

/**
 * One file as training tokens: BOS (when the tokenizer adds one, not trained on), the
 * text plain or as a FIM example, then EOS. FIM is off when the tokenizer has no FIM tokens.
 */
export function encodeDocument(tok: DocTokenizer, text: string, rng: Rng, s: FimSettings): EncodedDocument {
  const body = encodeBody(tok, text, rng, s);
  return { ...body, segments: [...bosSegments(tok), ...body.segments, ...eosSegments(tok)] };
}
