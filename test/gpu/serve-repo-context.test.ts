// `homecoder serve --context-source DIR` as an editor meets it: a FIM request without context
// gets the folder's snippets (the prompt is exactly the one built with them), a llama.cpp
// request with its own input_extra is served with that context only, and a plain prompt with
// none. Prompt sizes are compared with prompts built here with the same tokenizer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';
import { nodeFiles } from '../../src/model/storage/node-files.ts';
import { RepoIndex } from '../../src/data/repo-index.ts';
import { buildPrompt } from '../../src/serve/fim.ts';
import { DEFAULT_REPO_CONTEXT, withRepoContext } from '../../src/serve/repo-context.ts';
import { DEFAULT_REQUEST } from '../../src/serve/types.ts';
import { gpuSkipReason, skipNote } from '../helpers/gpu.ts';
import { startServe, writeTinyModel, type RunningServe } from '../helpers/serve.ts';

const JSON_BODY = { 'content-type': 'application/json' };
const FILES: Record<string, string> = {
  'shop/prices.py': 'TAX = 0.2\n\n\ndef compute_discount(total, code):\n    if code == "VIP":\n        return total * 0.1\n    return 0\n',
  'shop/cart.py': 'class Cart:\n    def __init__(self):\n        self.items = []\n',
  'shop/report.py': 'def print_report(rows):\n    for r in rows:\n        print(r)\n',
};
const PREFIX = 'def pay(cart):\n    return compute_discount(';
const SUFFIX = ')\n';
/** The prompt's room: --context 512 less the one token asked for. */
const BUDGET = 511;

describe.skipIf(!!gpuSkipReason)(`homecoder serve --context-source${skipNote}`, () => {
  let serve: RunningServe;
  let tok: ModelTokenizer;
  let index: RepoIndex;

  beforeAll(async () => {
    const model = writeTinyModel({ seed: 3, layers: 1, hidden: 32 });
    const src = mkdtempSync(join(tmpdir(), 'hc-ctx-'));
    for (const [p, text] of Object.entries(FILES)) {
      mkdirSync(join(src, p, '..'), { recursive: true });
      writeFileSync(join(src, p), text);
    }
    serve = await startServe(['--model', model, '--context', '512', '--context-source', src]);
    tok = await ModelTokenizer.load(nodeFiles(model));
    index = RepoIndex.fromFiles(Object.entries(FILES).map(([path, text]) => ({ source: 'src', path, text })));
  });
  afterAll(async () => {
    await serve?.stop();
  });

  const post = async (route: string, body: object) =>
    (await (await fetch(`${serve.url}${route}`, { method: 'POST', headers: JSON_BODY, body: JSON.stringify(body) })).json()) as Record<
      string,
      never
    >;

  it('says what it indexed', () => {
    expect(serve.output()).toMatch(/Repository context: 3 files/);
  });

  it('adds the snippets to a FIM request that has no context of its own', async () => {
    const r = await post('/v1/completions', { prompt: PREFIX, suffix: SUFFIX, max_tokens: 1, temperature: 0 });
    const req = { ...DEFAULT_REQUEST, prefix: PREFIX, suffix: SUFFIX };
    const bare = buildPrompt(tok, req, BUDGET).ids.length;
    const { req: withCtx, added } = withRepoContext(req, index, tok, DEFAULT_REPO_CONTEXT);
    expect(added?.snippets[0].path).toBe('shop/prices.py');
    const expected = buildPrompt(tok, withCtx, BUDGET).ids.length;
    expect(expected).toBeGreaterThan(bare);
    expect((r.usage as { prompt_tokens: number }).prompt_tokens).toBe(expected);
  });

  it("keeps the editor's input_extra instead, and adds nothing to a plain prompt", async () => {
    const extra = [{ filename: 'mine.py', text: 'VALUE = 1\n' }];
    const r = await post('/infill', { input_prefix: PREFIX, input_suffix: SUFFIX, input_extra: extra, n_predict: 1 });
    expect(r.tokens_evaluated).toBe(buildPrompt(tok, { prefix: PREFIX, suffix: SUFFIX, extra }, BUDGET).ids.length);
    const plain = await post('/v1/completions', { prompt: 'compute_discount(', max_tokens: 1 });
    expect((plain.usage as { prompt_tokens: number }).prompt_tokens).toBe(
      buildPrompt(tok, { prompt: 'compute_discount(' }, BUDGET).ids.length,
    );
  });
});
