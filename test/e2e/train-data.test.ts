// Supervised data on the Train page in headless Chromium: an instruct-style tiny model (Qwen's
// chat template) downloaded from a hub-shaped server, a folder of code and a pairs file with a
// bad line: the page shows the counts by kind, the bad line by its number, and a preview where
// the highlighted (loss-bearing) tokens of a pair are its completion and <|im_end|>; a CSV's
// chosen columns are read; a short run trains on the mix and says how many pairs it used.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import { browserSkipReason, launchBrowser, startBridgeProcess, type RunningBridge } from '../helpers/browser.ts';
import { closeAll, skipNote } from '../helpers/e2e.ts';
import { startMockHub, type MockHub } from '../helpers/mock-hub.ts';
import { tinyRepo } from '../helpers/tiny-repo.ts';

const WORDS = ['stone', 'lamp', 'river', 'cloud', 'apple', 'tiger'];

describe.skipIf(!!browserSkipReason)(`Train page: conversations and pairs${skipNote}`, () => {
  const model = makeTinyModel({ arch: 'qwen2', seed: 5, instruct: true });
  let hub: MockHub;
  let bridge: RunningBridge;
  let browser: Browser;
  let page: Page;
  let dir: string;
  const counts = (attr: string) => page.getAttribute('[data-testid="data-counts"]', attr);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hc-e2e-train-data-'));
    mkdirSync(join(dir, 'repo', 'src'), { recursive: true });
    for (const f of tinyRepo(6)) writeFileSync(join(dir, 'repo', f.path), f.text);
    const lines = WORDS.map((w) => JSON.stringify({ prompt: `Reverse: ${w}`, completion: [...w].reverse().join('') }));
    lines.splice(2, 0, '{"prompt": "no completion"}');
    writeFileSync(join(dir, 'pairs.jsonl'), `${lines.join('\n')}\n`);
    writeFileSync(join(dir, 'qa.csv'), 'question,answer\nReverse: dog,god\nReverse: cat,\n');
    hub = await startMockHub(new Map([['test/tiny-instruct', model.files]]));
    bridge = await startBridgeProcess(['--hub-origin', hub.url]);
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.goto(bridge.url);
    await page.goto(new URL('#/model', bridge.origin).href);
    await page.click('details summary');
    await page.fill('[data-testid="hub-endpoint"]', hub.url);
    await page.fill('[data-testid="repo-input"]', 'test/tiny-instruct');
    await page.click('[data-testid="repo-download"]');
    await page.waitForSelector('[data-testid="cached-model"][data-complete="true"]', { timeout: 60_000 });
    await page.goto(new URL('#/train', bridge.origin).href);
    await page.waitForSelector('[data-testid="train-model"] option', { state: 'attached' });
  });
  afterAll(() => closeAll({ browser, bridge, servers: [hub], dirs: [dir] }));

  it('a pairs file mixed with code: counts by kind, the bad line by number, a preview with the completion highlighted', async () => {
    await page.setInputFiles('[data-testid="train-files-input"]', join(dir, 'repo'));
    await page.waitForSelector('[data-testid="picked-note"]');
    await page.setInputFiles('[data-testid="supervised-input"]', join(dir, 'pairs.jsonl'));
    await page.waitForSelector('[data-testid="data-counts"][data-pairs="6"]', { timeout: 60_000 });
    expect(await counts('data-code-files')).toBe('6');
    expect(await counts('data-chats')).toBe('0');
    expect(await counts('data-bad-lines')).toBe('1');
    expect((await page.textContent('[data-testid="data-counts"]'))?.replace(/\s+/g, ' ')).toMatch(
      /6 code files \(\d+ for test\), 0 conversations, 6 pairs; 1 bad lines skipped/,
    );
    expect(await page.textContent('[data-testid="bad-lines"]')).toMatch(/pairs\.jsonl line 3: "completion" is missing/);
    // The preview: code documents and pair documents; a pair's loss-bearing tokens are its completion and <|im_end|>.
    const docs = await page.$$eval('[data-testid="preview-doc"]', (els) =>
      els.map((el) => ({
        kind: el.getAttribute('data-kind'),
        source: el.getAttribute('data-source') ?? '',
        loss: [...el.querySelectorAll('span[data-loss="1"]')].map((s) => s.textContent).join(''),
        all: [...el.querySelectorAll('span')].map((s) => s.textContent).join(''),
        highlighted: [...el.querySelectorAll('span.loss')].length,
      })),
    );
    const pairs = docs.filter((d) => d.kind === 'pair');
    expect(pairs.length).toBeGreaterThan(0);
    expect(docs.some((d) => d.kind === 'plain' || d.kind === 'psm' || d.kind === 'spm')).toBe(true);
    for (const p of pairs) {
      const word = /Reverse: (\w+)/.exec(p.all)![1];
      expect(p.loss).toBe(`${[...word].reverse().join('')}<|im_end|>`);
      expect(p.all).toContain('<|im_start|>assistant\n');
      expect(p.highlighted).toBeGreaterThan(0);
    }
  });

  it('a CSV with two chosen columns', async () => {
    await page.setInputFiles('[data-testid="supervised-input"]', [join(dir, 'pairs.jsonl'), join(dir, 'qa.csv')]);
    // Until the columns are named, the CSV's header has no prompt/completion: a typed error that names them.
    await page.waitForSelector('[data-testid="supervised-error"][data-code="BAD_CSV_COLUMNS"]', { timeout: 60_000 });
    await page.fill('[data-testid="csv-prompt-column"]', 'question');
    await page.fill('[data-testid="csv-completion-column"]', 'answer');
    await page.waitForSelector('[data-testid="data-counts"][data-pairs="7"]', { timeout: 60_000 });
    expect(await counts('data-bad-lines')).toBe('2');
    expect(await page.textContent('[data-testid="bad-lines"]')).toMatch(/qa\.csv line 3: column "answer" is empty/);
  });

  it('a short run trains on the mix and counts the pairs it used', async () => {
    if (!(await page.isVisible('[data-setting="seed"]'))) await page.click('details.advanced summary');
    for (const [k, v] of Object.entries({
      steps: '2',
      seqLen: '96',
      batchSize: '1',
      warmupSteps: '0',
      evalEvery: '2',
      checkpointEvery: '2',
    }))
      await page.fill(`[data-setting="${k}"]`, v);
    await page.selectOption('[data-setting="lossFilter"]', 'off');
    await page.click('[data-testid="train-start"]');
    await page.waitForSelector('[data-testid="train-status"][data-status="done"]', { timeout: 170_000 });
    expect((await page.textContent('[data-testid="train-status"]'))?.replace(/\s+/g, ' ')).toMatch(
      /0 conversations and 7 pairs \(2 bad lines skipped\)/,
    );
  });
});
