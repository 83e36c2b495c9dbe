// The app tab as the backend: a model loaded on the Model page serves editors through the
// bridge's WebSocket. A test client's llama.cpp /infill gets the same text as the headless
// `homecoder serve` on the same files; the Playground shows a ghost completion through the
// same path; an imported PEFT adapter at weight 0.8 serves without reloading the base and
// matches the headless server with --adapter DIR=0.8; closing the tab ends serving (503).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, launchBrowser, startBridgeProcess, type RunningBridge } from '../helpers/browser.ts';
import { closeAll, skipNote, writeOpfsAdapter } from '../helpers/e2e.ts';
import { startServe, writeRandomAdapter, writeTinyModel } from '../helpers/serve.ts';
import { readFileSync } from 'node:fs';

const INFILL = { input_prefix: 'def add(a, b):\n    result = ', input_suffix: '\n    return result\n', n_predict: 16 };
const TYPED = 'def main():\n';

async function infill(url: string, body: object): Promise<{ status: number; content?: string; raw: string }> {
  const r = await fetch(new URL('/infill', url), {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', 'x-homecoder-client': 'e2e-test' },
  });
  const raw = await r.text();
  return { status: r.status, raw, content: r.ok ? (JSON.parse(raw) as { content: string }).content : undefined };
}

describe.skipIf(!!browserSkipReason)(`Use page: the tab serves editors${skipNote}`, () => {
  let modelDir: string;
  let adapterDir: string;
  const expected: { base?: string; adapter?: string; full?: string; typed?: string } = {};
  let bridge: RunningBridge;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    modelDir = writeTinyModel({ seed: 4, layers: 2, hidden: 64 });
    adapterDir = writeRandomAdapter(modelDir, 'my-adapter');
    // What the headless server answers on the same files (lavapipe; the tab runs on SwiftShader,
    // which has no shader-f16: both on an f32 KV cache, so greedy texts compare exactly).
    const base = await startServe(['--model', modelDir, '--context', '2048', '--kv-cache', 'f32']);
    expected.base = (await infill(base.url, INFILL)).content;
    expected.typed = (await infill(base.url, { input_prefix: TYPED, input_suffix: '', n_predict: 32 })).content;
    await base.stop();
    const mixed = await startServe(['--model', modelDir, '--context', '2048', '--kv-cache', 'f32', '--adapter', `${adapterDir}=0.8`]);
    expected.adapter = (await infill(mixed.url, INFILL)).content;
    await mixed.stop();
    const full = await startServe(['--model', modelDir, '--context', '2048', '--kv-cache', 'f32', '--adapter', adapterDir]);
    expected.full = (await infill(full.url, INFILL)).content;
    await full.stop();
    expect(expected.adapter).not.toBe(expected.base); // the adapter changes the model
    expect(expected.full).not.toBe(expected.base);
    bridge = await startBridgeProcess();
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.goto(bridge.url); // the printed link, as a user opens it: sets the tab's cookie
    await page.goto(new URL('#/model', bridge.origin).href);
  });
  afterAll(() => closeAll({ browser, bridge }));

  it('before a model is loaded, editors get 503 saying what to do', async () => {
    const r = await infill(bridge.url, INFILL);
    expect(r.status).toBe(503);
    expect(r.raw).toMatch(/load/i);
  });

  it('a model loaded in the tab serves a llama.cpp /infill request with the headless text', async () => {
    await page.setInputFiles('[data-testid="folder-input"]', modelDir);
    await page.waitForSelector('[data-testid="loaded-model"]', { timeout: 60_000 });
    await page.click('nav a[data-page="use"]');
    await page.waitForSelector('[data-testid="serving"]');
    await page.waitForSelector('[data-testid="bridge-status"][data-state="serving"]', { timeout: 30_000 });
    const r = await infill(bridge.url, INFILL);
    expect(r.status).toBe(200);
    expect(r.raw).toMatch(/^{"content":"/);
    console.log(`[e2e tests] tab /infill: ${JSON.stringify(r.content)} (headless ${JSON.stringify(expected.base)})`);
    expect(r.content).toBe(expected.base);
  });

  it('the Playground shows a ghost completion through the bridge, with its latency; Tab accepts it', async () => {
    await page.click('[data-testid="playground-editor"] .cm-content');
    await page.keyboard.type(TYPED);
    const ghost = await page.waitForSelector('[data-testid="ghost-text"]', { timeout: 60_000 });
    const text = (await ghost.textContent()) ?? '';
    expect(text.length).toBeGreaterThan(0);
    expect(expected.typed!.startsWith(text)).toBe(true); // the same model's greedy text (a deadline may cut it short)
    expect(Number(await page.getAttribute('[data-testid="latency"]', 'data-ms'))).toBeGreaterThan(0);
    await page.keyboard.press('Tab');
    expect(await page.textContent('[data-testid="playground-editor"] .cm-content')).toContain(text.split('\n')[0]);
    // Both clients are in the connection panel's log.
    await page.waitForSelector('[data-testid="log-entry"][data-client="playground"]');
    await page.waitForSelector('[data-testid="log-entry"][data-client="e2e-test"][data-route="/infill"]');
    expect(await page.textContent('[data-testid="settings-text"]')).toContain(new URL(bridge.url).origin);
  });

  it('an imported PEFT adapter at weight 0.8 serves without reloading the base, as the headless server does', async () => {
    await page.setInputFiles('[data-testid="adapter-import"]', adapterDir);
    const row = await page.waitForSelector('[data-testid="adapter"][data-id="imported/my-adapter"]');
    await (await row.$('[data-testid="adapter-use"]'))!.check();
    await (await row.$('[data-testid="adapter-weight"]'))!.fill('0.8');
    await page.click('[data-testid="serve-adapters"]');
    await page.waitForSelector('[data-testid="serving"][data-adapters="1"]');
    expect((await infill(bridge.url, INFILL)).content).toBe(expected.adapter);
    await page.click('[data-testid="serve-base"]');
    await page.waitForSelector('[data-testid="serving"][data-adapters="0"]');
    expect((await infill(bridge.url, INFILL)).content).toBe(expected.base);
  });

  it('lists checkpoints a training run stored under adapters/runs/ in OPFS, and serves the best one', async () => {
    const files = Object.fromEntries(
      ['adapter_config.json', 'adapter_model.safetensors'].map((n) => [n, [...readFileSync(join(adapterDir, n))]]),
    );
    await writeOpfsAdapter(page, ['adapters', 'runs', 'run-1', 'checkpoint-200'], files, {
      label: 'run-1 step 200',
      run: 'run-1',
      step: 200,
      testLoss: 1.234,
      best: true,
      createdAt: '2026-01-01T00:00:00Z',
    });
    await page.click('nav a[data-page="model"]');
    await page.click('nav a[data-page="use"]');
    const row = await page.waitForSelector('[data-testid="adapter"][data-id="runs/run-1/checkpoint-200"]');
    expect(await row.textContent()).toContain('1.2340');
    await page.click('[data-testid="serve-best"]');
    await page.waitForSelector('[data-testid="serving"][data-adapters="1"]');
    expect(await page.textContent('[data-testid="serving"]')).toContain('run-1 · step 200 × 1'); // by run and step, not its folder
    expect(await page.isChecked('[data-testid="adapter"][data-id="runs/run-1/checkpoint-200"] [data-testid="adapter-use"]')).toBe(true);
    expect((await infill(bridge.url, INFILL)).content).toBe(expected.full);
    await page.click('[data-testid="serve-base"]');
    await page.waitForSelector('[data-testid="serving"][data-adapters="0"]');
  });

  it('superseded and disconnected requests are cancelled in the tab too; nothing is left running', async () => {
    const send = (i: number, signal?: AbortSignal) =>
      fetch(new URL('/infill', bridge.url), {
        method: 'POST',
        signal,
        headers: { 'content-type': 'application/json', 'x-homecoder-client': 'typist' },
        body: JSON.stringify({ ...INFILL, input_prefix: `${INFILL.input_prefix}${i}`, n_predict: 24 }),
      }).then(async (r) => (await r.json()) as { stop_type: string; content: string });
    const gone = new AbortController();
    const hungUp = fetch(new URL('/infill', bridge.url), {
      method: 'POST',
      signal: gone.signal,
      headers: { 'content-type': 'application/json', 'x-homecoder-client': 'other' },
      body: JSON.stringify(INFILL),
    }).catch((e: Error) => e.name);
    const answers = await Promise.all([0, 1, 2, 3].map((i) => send(i).finally(() => i === 0 && gone.abort())));
    expect(await hungUp).toBe('AbortError');
    expect(answers.slice(0, 3).some((a) => a.stop_type === 'none')).toBe(true); // superseded by the newest
    expect(answers[3].stop_type).not.toBe('none');
    let status = { queued: -1, running: -1, backendActive: -1 };
    for (let t = 0; t < 50; t++) {
      status = (await (await fetch(new URL('/bridge/status', bridge.url), { headers: { cookie: bridge.cookie } })).json()) as typeof status;
      if (status.running === 0 && status.backendActive === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toMatchObject({ queued: 0, running: 0, backendActive: 0 });
  });

  it('closing the tab stops serving', async () => {
    await page.close();
    let r = await infill(bridge.url, INFILL);
    for (let i = 0; i < 20 && r.status !== 503; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await infill(bridge.url, INFILL);
    }
    expect(r.status).toBe(503);
  });
});
