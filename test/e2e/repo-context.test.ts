// Repository context in the tab: a folder added on the Sources page and filtered is indexed;
// with the Use page's setting on, an editor's /infill without context gets the snippet that
// defines the name at the cursor (the prompt is exactly the one built here with it) and the page
// shows what was added; a request with its own input_extra keeps it; turned off, nothing is added.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, launchBrowser, startBridgeProcess, type RunningBridge } from '../helpers/browser.ts';
import { closeAll, skipNote } from '../helpers/e2e.ts';
import { writeTinyModel } from '../helpers/serve.ts';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';
import { nodeFiles } from '../../src/model/storage/node-files.ts';
import { RepoIndex } from '../../src/data/repo-index.ts';
import { buildPrompt } from '../../src/serve/fim.ts';
import { withRepoContext } from '../../src/serve/repo-context.ts';
import { DEFAULT_REQUEST } from '../../src/serve/types.ts';

const FILES: Record<string, string> = {
  'shop/prices.py': 'TAX = 0.2\n\n\ndef compute_discount(total, code):\n    if code == "VIP":\n        return total * 0.1\n    return 0\n',
  'shop/cart.py': 'class Cart:\n    def __init__(self):\n        self.items = []\n',
  'shop/report.py': 'def print_report(rows):\n    for r in rows:\n        print(r)\n',
};
const PREFIX = 'def pay(cart):\n    return compute_discount(';
const SUFFIX = ')\n';
const N = 4;

async function infill(url: string, body: object): Promise<{ tokens_evaluated: number }> {
  const r = await fetch(new URL('/infill', url), {
    method: 'POST',
    body: JSON.stringify({ input_prefix: PREFIX, input_suffix: SUFFIX, n_predict: N, ...body }),
    headers: { 'content-type': 'application/json', 'x-homecoder-client': 'e2e-test' },
  });
  expect(r.status).toBe(200);
  return (await r.json()) as { tokens_evaluated: number };
}

describe.skipIf(!!browserSkipReason)(`Use page: repository context${skipNote}`, () => {
  let dir: string;
  let modelDir: string;
  let tok: ModelTokenizer;
  let bridge: RunningBridge;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hc-e2e-ctx-'));
    for (const [p, text] of Object.entries(FILES)) {
      mkdirSync(dirname(join(dir, 'shopfolder', p)), { recursive: true });
      writeFileSync(join(dir, 'shopfolder', p), text);
    }
    modelDir = writeTinyModel({ seed: 4, layers: 1, hidden: 32 });
    tok = await ModelTokenizer.load(nodeFiles(modelDir));
    bridge = await startBridgeProcess();
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.goto(bridge.url); // the printed link, as a user opens it: sets the tab's cookie
    await page.goto(new URL('#/sources', bridge.origin).href);
  });
  afterAll(() => closeAll({ browser, bridge, dirs: [dir] }));

  it('a filtered folder is indexed; with the setting on, /infill gets the defining snippet and the page shows it', async () => {
    await page.setInputFiles('[data-testid="folder-input"]', join(dir, 'shopfolder'));
    await page.waitForSelector('[data-testid="source-row"][data-name="shopfolder"]', { timeout: 60_000 });
    await page.goto(new URL('#/filter', bridge.origin).href);
    await page.click('[data-testid="run-filter"]');
    await page.waitForSelector('[data-testid="filter-summary"][data-accepted="3"]', { timeout: 60_000 });
    await page.goto(new URL('#/model', bridge.origin).href);
    await page.setInputFiles('[data-testid="folder-input"]', modelDir);
    await page.waitForSelector('[data-testid="loaded-model"]', { timeout: 60_000 });
    await page.click('nav a[data-page="use"]');
    await page.waitForSelector('[data-testid="bridge-status"][data-state="serving"]', { timeout: 30_000 });

    const req = { ...DEFAULT_REQUEST, prefix: PREFIX, suffix: SUFFIX, extra: [] };
    const bare = buildPrompt(tok, req, 2048 - N).ids.length;
    expect((await infill(bridge.url, {})).tokens_evaluated).toBe(bare); // off by default

    await page.check('[data-testid="repo-context-toggle"]');
    await page.waitForSelector('[data-testid="repo-context-index"][data-files="3"]');
    const r = await infill(bridge.url, {});
    const index = RepoIndex.fromFiles(Object.entries(FILES).map(([path, text]) => ({ source: 'shopfolder', path, text })));
    const withCtx = withRepoContext(req, index, tok).req;
    expect(r.tokens_evaluated).toBe(buildPrompt(tok, withCtx, 2048 - N).ids.length);
    expect(r.tokens_evaluated).toBeGreaterThan(bare);
    await page.waitForSelector('[data-testid="repo-context-snippet"][data-path="shop/prices.py"]', { timeout: 10_000 });
    expect(await page.textContent('[data-testid="repo-context-last"]')).toContain('compute_discount');
  });

  it("keeps an editor's input_extra, and adds nothing once turned off (remembered after a reload)", async () => {
    const extra = [{ filename: 'mine.py', text: 'VALUE = 1\n' }];
    const own = await infill(bridge.url, { input_extra: extra });
    expect(own.tokens_evaluated).toBe(buildPrompt(tok, { prefix: PREFIX, suffix: SUFFIX, extra }, 2048 - N).ids.length);
    await page.waitForSelector('[data-testid="repo-context-last"][data-snippets="0"]', { timeout: 10_000 });
    expect(await page.textContent('[data-testid="repo-context-last"]')).toContain('its own context');

    await page.uncheck('[data-testid="repo-context-toggle"]');
    await page.waitForFunction(() => !document.querySelector('[data-testid="repo-context-index"]'));
    const off = await infill(bridge.url, {});
    expect(off.tokens_evaluated).toBe(buildPrompt(tok, { prefix: PREFIX, suffix: SUFFIX }, 2048 - N).ids.length);

    // The setting is remembered across a reload, on and off.
    await page.check('[data-testid="repo-context-toggle"]');
    await page.waitForSelector('[data-testid="repo-context-index"][data-files="3"]');
    await page.reload();
    await page.waitForSelector('[data-testid="repo-context-index"][data-files="3"]', { timeout: 30_000 });
    expect(await page.isChecked('[data-testid="repo-context-toggle"]')).toBe(true);
    await page.uncheck('[data-testid="repo-context-toggle"]');
    await page.waitForFunction(() => !document.querySelector('[data-testid="repo-context-index"]'));
    await page.reload();
    await page.waitForSelector('[data-testid="repo-context"]');
    await page.waitForTimeout(500);
    expect(await page.isChecked('[data-testid="repo-context-toggle"]')).toBe(false);
  });
});
