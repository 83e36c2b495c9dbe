// Chat through the app tab in headless Chromium: a tiny model with a Qwen-style chat template
// loaded on the Model page serves the real `openai` and `ollama` clients' chat (streamed and
// not) with the same greedy answer as `homecoder serve` on the same files; an imported adapter
// is picked per request by name (homecoder:<name>) without touching what the Use page serves;
// the Chat panel streams an answer and Stop ends it; function mode runs one input. The app as a
// static site with no bridge: the Chat panel asks the engine worker itself, same answer, Stop too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, launchBrowser, startBridgeProcess, type RunningBridge } from '../helpers/browser.ts';
import { closeAll, skipNote } from '../helpers/e2e.ts';
import { startServe, writeRandomAdapter, writeTinyModel } from '../helpers/serve.ts';
import { serveStatic, type StaticHost } from '../helpers/static-host.ts';

const MESSAGES = [
  { role: 'system' as const, content: 'Answer with code.' },
  { role: 'user' as const, content: 'def add(a, b):' },
];
const N = 16;
/** Candidates for the panel's message: one the model answers at length, so there is time to press Stop. */
const LONG_CANDIDATES = ['print', 'class Point:', 'for i in range(10):', 'return None', 'hello world', 'def main():'];

interface ChatAnswer {
  choices: Array<{ message: { content: string }; finish_reason: string }>;
}

async function chat(origin: string, body: object): Promise<ChatAnswer> {
  const r = await fetch(`${origin}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-homecoder-client': 'e2e-chat' },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  return (await r.json()) as ChatAnswer;
}

describe.skipIf(!!browserSkipReason)(`Chat through the app tab${skipNote}`, () => {
  let modelDir: string;
  let adapterDir: string;
  const expected: { base?: string; fn?: string; long?: string; fnInput?: string } = {};
  let longMessage = '';
  let bridge: RunningBridge;
  let browser: Browser;
  let page: Page;
  let host: StaticHost | undefined;

  beforeAll(async () => {
    modelDir = writeTinyModel({ seed: 3, layers: 2, hidden: 64, instruct: true });
    adapterDir = writeRandomAdapter(modelDir, 'fn');
    // What the headless server answers on the same files (lavapipe; the tab runs on SwiftShader).
    const serve = await startServe(['--model', modelDir, '--context', '2048', '--named-adapter', `fn=${adapterDir}`]);
    try {
      expected.base = (await chat(serve.url, { messages: MESSAGES, max_tokens: N })).choices[0].message.content;
      expected.fn = (await chat(serve.url, { model: 'homecoder:fn', messages: MESSAGES, max_tokens: N })).choices[0].message.content;
      expected.fnInput = (
        await chat(serve.url, { model: 'homecoder:fn', messages: [{ role: 'user', content: 'abc' }], max_tokens: 8 })
      ).choices[0].message.content;
      for (const m of LONG_CANDIDATES) {
        const r = await chat(serve.url, { messages: [{ role: 'user', content: m }], max_tokens: 48 });
        if (r.choices[0].finish_reason === 'length') {
          longMessage = m;
          expected.long = r.choices[0].message.content;
          break;
        }
      }
    } finally {
      await serve.stop();
    }
    expect(expected.fn).not.toBe(expected.base);
    expect(longMessage, 'a message the tiny model answers at length').not.toBe('');
    bridge = await startBridgeProcess();
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.goto(bridge.url); // the printed link: sets the tab's cookie
    await page.goto(new URL('#/model', bridge.origin).href);
    await page.setInputFiles('[data-testid="folder-input"]', modelDir);
    await page.waitForSelector('[data-testid="loaded-model"]', { timeout: 60_000 });
    await page.click('nav a[data-page="use"]');
    await page.waitForSelector('[data-testid="bridge-status"][data-state="serving"]', { timeout: 30_000 });
  });
  afterAll(() => closeAll({ browser, bridge, servers: [host] }));

  it('the openai client: chat, plain and streamed, gets the headless server’s greedy answer', async () => {
    const client = new OpenAI({ baseURL: `${bridge.origin}/v1`, apiKey: 'unused', maxRetries: 0 });
    const r = await client.chat.completions.create({ model: 'homecoder', messages: MESSAGES, max_tokens: N, temperature: 0 });
    console.log(`[e2e tests] tab chat: ${JSON.stringify(r.choices[0].message.content)} (headless ${JSON.stringify(expected.base)})`);
    expect(r.choices[0].message.content).toBe(expected.base);
    let text = '';
    for await (const c of await client.chat.completions.create({ model: 'homecoder', messages: MESSAGES, max_tokens: N, stream: true }))
      text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe(expected.base);
  });

  it('the ollama client: chat, plain and streamed, gets the same answer', async () => {
    const ollama = new Ollama({ host: bridge.origin });
    expect((await ollama.chat({ model: 'homecoder', messages: MESSAGES, options: { num_predict: N } })).message.content).toBe(
      expected.base,
    );
    let text = '';
    for await (const part of await ollama.chat({ model: 'homecoder', messages: MESSAGES, stream: true, options: { num_predict: N } }))
      text += part.message.content;
    expect(text).toBe(expected.base);
  });

  it('an imported adapter is listed as homecoder:<name> and picked per request; the base answers in between', async () => {
    await page.setInputFiles('[data-testid="adapter-import"]', adapterDir);
    await page.waitForSelector('[data-testid="adapter"][data-id="imported/fn"]');
    const client = new OpenAI({ baseURL: `${bridge.origin}/v1`, apiKey: 'unused', maxRetries: 0 });
    let ids: string[] = [];
    for (let i = 0; i < 50 && !ids.includes('homecoder:fn'); i++) {
      ids = (await client.models.list()).data.map((m) => m.id);
      if (!ids.includes('homecoder:fn')) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ids).toEqual(['homecoder', 'homecoder:fn']);
    for (const model of ['homecoder:fn', 'homecoder', 'homecoder:fn']) {
      const r = await client.chat.completions.create({ model, messages: MESSAGES, max_tokens: N });
      expect(r.choices[0].message.content, model).toBe(model === 'homecoder' ? expected.base : expected.fn);
    }
    // What the Use page serves by default did not change.
    expect(await page.getAttribute('[data-testid="serving"]', 'data-adapters')).toBe('0');
    const unknown = await fetch(`${bridge.origin}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'homecoder:nope', messages: MESSAGES }),
    });
    expect(unknown.status).toBe(404);
  });

  it('the Chat panel streams an answer and Stop ends it; the request is cancelled in the tab', async () => {
    await page.waitForSelector('[data-testid="chat-model"] option[value="homecoder:fn"]', { state: 'attached' });
    await page.selectOption('[data-testid="chat-model"]', 'homecoder');
    await page.fill('[data-testid="chat-max-tokens"]', '1000');
    await page.fill('[data-testid="chat-input"]', longMessage);
    await page.click('[data-testid="chat-send"]');
    await page.waitForSelector('[data-testid="chat-panel"][data-state="streaming"]');
    // Streaming: the answer grows in the assistant's turn before Stop.
    await page.waitForFunction(
      () => (document.querySelector('[data-testid="chat-turn"][data-role="assistant"]')?.textContent ?? '').length >= 3,
      undefined,
      { timeout: 60_000 },
    );
    await page.click('[data-testid="chat-stop"]');
    await page.waitForSelector('[data-testid="chat-panel"][data-state="idle"]', { timeout: 30_000 });
    expect(await page.getAttribute('[data-testid="chat-finish"]', 'data-finish')).toBe('cancelled');
    const shown = (await page.textContent('[data-testid="chat-turn"][data-role="assistant"]')) ?? '';
    // The same greedy answer, cut where Stop came (code blocks are shown without their fences).
    const plain = (s: string) => s.replace(/```[^\n]*\n?/g, '').replace(/\s+/g, '');
    const [a, b] = [plain(shown), plain(expected.long!)];
    expect(a.startsWith(b) || b.startsWith(a), `${JSON.stringify(shown)} vs ${JSON.stringify(expected.long)}`).toBe(true);
    expect(await page.textContent('[data-testid="chat-turn"][data-role="user"]')).toContain(longMessage);
    // Nothing keeps running in the tab after Stop.
    let status = { running: -1, backendActive: -1 };
    for (let t = 0; t < 50; t++) {
      status = (await (await fetch(new URL('/bridge/status', bridge.url), { headers: { cookie: bridge.cookie } })).json()) as typeof status;
      if (status.running === 0 && status.backendActive === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toMatchObject({ running: 0, backendActive: 0 });
  });

  it('function mode: one input to the adapter gives its output', async () => {
    await page.check('[data-testid="chat-mode-function"]');
    await page.selectOption('[data-testid="chat-model"]', 'homecoder:fn');
    await page.fill('[data-testid="chat-max-tokens"]', '8');
    await page.fill('[data-testid="chat-input"]', 'abc');
    await page.click('[data-testid="chat-send"]');
    await page.waitForSelector('[data-testid="chat-finish"]:not([data-finish="cancelled"])', { timeout: 60_000 });
    expect(await page.textContent('[data-testid="chat-output"]')).toBe(expected.fnInput);
  });
  it('with no bridge (the static site), the Chat panel asks the tab’s engine: the same answer; Stop ends it', async () => {
    host = await serveStatic(resolve(import.meta.dirname, '../../dist'), '/homecoder/');
    const context = await browser.newContext();
    const p = await context.newPage();
    try {
      await p.goto(new URL('#/model', host.url).href);
      await p.setInputFiles('[data-testid="folder-input"]', modelDir);
      await p.waitForSelector('[data-testid="loaded-model"]', { timeout: 60_000 });
      await p.click('nav a[data-page="use"]');
      await p.waitForSelector('[data-testid="chat-panel"][data-path="tab"]', { timeout: 30_000 });
      const plain = (s: string) => s.replace(/```[^\n]*\n?/g, '').replace(/\s+/g, '');
      const assistant = '[data-testid="chat-turn"][data-role="assistant"]';
      // Streamed from the worker, then Stop: the job ends with what came so far.
      await p.fill('[data-testid="chat-max-tokens"]', '1000');
      await p.fill('[data-testid="chat-input"]', longMessage);
      await p.click('[data-testid="chat-send"]');
      await p.waitForSelector('[data-testid="chat-panel"][data-state="streaming"]');
      await p.waitForFunction((sel) => (document.querySelector(sel)?.textContent ?? '').length >= 3, assistant, { timeout: 60_000 });
      await p.click('[data-testid="chat-stop"]');
      await p.waitForSelector('[data-testid="chat-panel"][data-state="idle"]', { timeout: 30_000 });
      expect(await p.getAttribute('[data-testid="chat-finish"]', 'data-finish')).toBe('cancelled');
      const [a, b] = [plain((await p.textContent(assistant)) ?? ''), plain(expected.long!)];
      expect(a.length).toBeGreaterThanOrEqual(3);
      expect(a.startsWith(b) || b.startsWith(a), `${a} vs ${b}`).toBe(true);
      // A new chat, answered whole: the headless server's greedy answer (the stopped job no longer runs).
      await p.click('[data-testid="chat-clear"]');
      await p.fill('[data-testid="chat-system"]', MESSAGES[0].content);
      await p.fill('[data-testid="chat-max-tokens"]', String(N));
      await p.fill('[data-testid="chat-input"]', MESSAGES[1].content);
      await p.click('[data-testid="chat-send"]');
      await p.waitForSelector('[data-testid="chat-finish"]:not([data-finish="cancelled"])', { timeout: 60_000 });
      expect(plain((await p.textContent(assistant)) ?? '')).toBe(plain(expected.base!));
      expect(await p.getAttribute('[data-testid="chat-panel"]', 'data-path')).toBe('tab');
    } finally {
      await context.close();
    }
  }, 180_000);
});
