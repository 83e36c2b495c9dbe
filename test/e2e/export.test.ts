// The Use page's Export: a model loaded in the tab is exported as GGUF F16 into browser
// storage with progress, offered as a download, and the downloaded file parses with
// @huggingface/gguf and is byte for byte what `homecoder export` writes from the same folder;
// the stored export is listed, and Delete removes it from browser storage.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gguf } from '@huggingface/gguf';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, launchBrowser, startBridgeProcess, type RunningBridge } from '../helpers/browser.ts';
import { closeAll, skipNote } from '../helpers/e2e.ts';
import { writeTinyModel } from '../helpers/serve.ts';
import { runCli } from '../helpers/cli.ts';

describe.skipIf(!!browserSkipReason)(`Use page: export${skipNote}`, () => {
  let modelDir: string;
  let bridge: RunningBridge;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    modelDir = writeTinyModel({ seed: 6, layers: 2, hidden: 64 });
    bridge = await startBridgeProcess();
    browser = await launchBrowser();
    page = await browser.newPage({ acceptDownloads: true });
    await page.goto(bridge.url);
    await page.goto(new URL('#/model', bridge.origin).href);
  });
  afterAll(() => closeAll({ browser, bridge }));

  it('exports GGUF F16 with a download that @huggingface/gguf parses and equals the CLI export', async () => {
    await page.setInputFiles('[data-testid="folder-input"]', modelDir);
    await page.waitForSelector('[data-testid="loaded-model"]', { timeout: 60_000 });
    await page.click('nav a[data-page="use"]');
    await page.waitForSelector('[data-testid="export-panel"]');
    await page.selectOption('[data-testid="export-format"]', 'gguf-f16');
    await page.click('[data-testid="export-start"]');
    const link = await page.waitForSelector('[data-testid="export-download"]', { timeout: 60_000 });
    expect(await link.textContent()).toBe('model-f16.gguf');
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const path = await download.path();
    const { metadata, tensorInfos } = await gguf(path, { allowLocalFile: true });
    const md = metadata as Record<string, unknown>;
    expect(md['general.architecture']).toBe('qwen2');
    expect(md['tokenizer.ggml.pre']).toBe('qwen2');
    expect(tensorInfos.find((t) => t.name === 'blk.1.attn_q.weight')!.shape.map(Number)).toEqual([64, 64]);
    const out = join(dirname(modelDir), 'cli-export');
    const r = runCli('export', '--quiet', '--model', modelDir, '--format', 'gguf-f16', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(out)).toContain('model-f16.gguf');
    expect(Buffer.compare(readFileSync(path), readFileSync(join(out, 'model-f16.gguf')))).toBe(0);
    const modelfile = await page.$$eval('[data-testid="export-download"]', (as) => as.map((a) => a.textContent));
    expect(modelfile).toContain('Modelfile');
  });

  it('lists the stored export, and Delete removes it from browser storage', async () => {
    const row = await page.waitForSelector('[data-testid="stored-export"]');
    const folder = (await row.getAttribute('data-folder'))!;
    expect(folder).toMatch(/-gguf-f16$/);
    expect(await row.textContent()).toContain('model-f16.gguf');
    const inOpfs = () =>
      page.evaluate(async (f) => {
        const root = await navigator.storage.getDirectory();
        const dir = await root.getDirectoryHandle('exports');
        return dir
          .getDirectoryHandle(f)
          .then(() => true)
          .catch(() => false);
      }, folder);
    expect(await inOpfs()).toBe(true);
    page.once('dialog', (d) => void d.accept());
    await row.$eval('[data-testid="stored-export-delete"]', (b) => (b as HTMLButtonElement).click());
    await page.waitForSelector(`[data-testid="stored-export"][data-folder="${folder}"]`, { state: 'detached' });
    expect(await inOpfs()).toBe(false);
  });
});
