// The chat routes and model names on the real bridge (in this process) with a `ws` client
// playing the app tab over the real tab socket, answering with what it was asked: the
// OpenAI and Ollama chat shapes (streamed and not), `model` picking a named adapter, and
// bad input — malformed messages, wrong roles, huge bodies, unknown models, a model without
// a chat template, malformed tab messages. The engine's answers are checked in
// test/gpu/serve-chat.test.ts and test/e2e/chat.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { startBridge, type Bridge } from '../../src/bridge/server.ts';
import type { CompletionRequest } from '../../src/serve/types.ts';
import { doneMessage, openTab, SERVING, type TabClient } from '../helpers/tab-client.ts';

let bridge: Bridge;
let origin: string;
let cookie: string;
let tab: TabClient;
/** What the tab answers: the request's messages and adapter, as JSON, in two deltas. */
const answer = (r: CompletionRequest) => JSON.stringify({ messages: r.messages, adapter: r.adapter ?? null });
const JSON_TYPE = { 'content-type': 'application/json' };

beforeAll(async () => {
  const appDir = mkdtempSync(join(tmpdir(), 'hc-chat-app-'));
  writeFileSync(join(appDir, 'index.html'), '<!doctype html><title>app</title>');
  bridge = await startBridge({ host: '127.0.0.1', port: 0, appDir, version: '0.0.0', secret: 'chat-secret', maxBodyBytes: 64 * 1024 });
  origin = new URL(bridge.url).origin;
  cookie = `homecoder-tab-${new URL(bridge.url).port}=chat-secret`;
  const t = await openTab(origin, { cookie }, (msg, tab) => {
    const text = answer(msg.request as CompletionRequest);
    if ((msg.request as CompletionRequest).adapter === 'gone')
      return tab.send({ type: 'error', id: msg.id, message: 'No stored adapter is called "gone".', code: 'UNKNOWN_MODEL' });
    tab.send({ type: 'text', id: msg.id, delta: text.slice(0, 5) });
    tab.send({ type: 'text', id: msg.id, delta: text.slice(5) });
    tab.send(doneMessage(msg.id, text));
  });
  if (typeof t === 'number') throw new Error(`tab socket refused: ${t}`);
  tab = t;
  tab.send({ type: 'serving', info: { ...SERVING, named: ['fn', 'gone'], chat: true } });
  for (let i = 0; i < 50 && !bridge.relay.stats().backend?.serving; i++) await new Promise((r) => setTimeout(r, 20));
});
afterAll(async () => {
  tab?.ws.close();
  await bridge?.close();
});

const post = (path: string, body: unknown) => fetch(`${origin}${path}`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify(body) });
const USER = [{ role: 'user', content: 'reverse: abc' }];

describe('chat routes', () => {
  it('openai: chat.completions.create, plain and streamed, in OpenAI shapes; usage when asked', async () => {
    const client = new OpenAI({ baseURL: `${origin}/v1`, apiKey: 'unused', maxRetries: 0 });
    const r = await client.chat.completions.create({
      model: 'homecoder',
      messages: [{ role: 'system', content: 's' }, ...USER] as never,
      max_tokens: 8,
    });
    expect(r.object).toBe('chat.completion');
    expect(r.id).toMatch(/^chatcmpl-/);
    expect(r.choices[0].message.role).toBe('assistant');
    expect(JSON.parse(r.choices[0].message.content!)).toEqual({ messages: [{ role: 'system', content: 's' }, ...USER], adapter: null });
    expect(r.choices[0].finish_reason).toBe('stop');
    expect(r.usage).toMatchObject({ prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 });
    const stream = await client.chat.completions.create({
      model: 'homecoder:fn',
      messages: USER as never,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'homecoder:fn')).toBe(true);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(JSON.parse(text)).toEqual({ messages: USER, adapter: 'fn' });
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage?.total_tokens).toBe(2);
  });

  it('openai: content as text parts, the developer role as the system, max_completion_tokens', async () => {
    const r = await post('/v1/chat/completions', {
      messages: [
        { role: 'developer', content: 'be brief' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ],
        },
      ],
      max_completion_tokens: 4,
    });
    const body = (await r.json()) as { choices: Array<{ message: { content: string } }> };
    expect(JSON.parse(body.choices[0].message.content).messages).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'ab' },
    ]);
  });

  it('ollama: chat, plain and streamed, in Ollama shapes; the model picks the adapter', async () => {
    const ollama = new Ollama({ host: origin });
    const r = await ollama.chat({ model: 'homecoder:fn', messages: USER, stream: false });
    expect(r.message.role).toBe('assistant');
    expect(JSON.parse(r.message.content)).toEqual({ messages: USER, adapter: 'fn' });
    expect(r.done).toBe(true);
    expect(r.done_reason).toBe('stop');
    expect(r.eval_count).toBe(1);
    let text = '';
    let last: { done: boolean; done_reason?: string } | undefined;
    let parts = 0;
    for await (const part of await ollama.chat({ model: 'homecoder', messages: USER, stream: true })) {
      text += part.message.content;
      last = part;
      parts++;
    }
    expect(parts).toBe(3);
    expect(JSON.parse(text)).toEqual({ messages: USER, adapter: null });
    expect(last).toMatchObject({ done: true, done_reason: 'stop' });
    // An empty conversation loads the model, as Ollama's does.
    expect(await (await post('/api/chat', { model: 'homecoder', messages: [] })).json()).toMatchObject({ done: true, done_reason: 'load' });
  });

  it('/v1/models and /api/tags list the default and every named adapter', async () => {
    const models = (await (await fetch(`${origin}/v1/models`)).json()) as { data: Array<{ id: string }> };
    expect(models.data.map((m) => m.id)).toEqual(['homecoder', 'homecoder:fn', 'homecoder:gone']);
    const tags = (await (await fetch(`${origin}/api/tags`)).json()) as { models: Array<{ name: string }> };
    expect(tags.models.map((m) => m.name)).toEqual(['homecoder:latest', 'homecoder:fn', 'homecoder:gone']);
  });

  it('an unknown model is a 404 listing the names, in each protocol; also on the completion routes', async () => {
    const a = await post('/v1/chat/completions', { model: 'homecoder:nope', messages: USER });
    expect(a.status).toBe(404);
    expect(((await a.json()) as { error: { message: string } }).error.message).toMatch(
      /No model is called "homecoder:nope".*homecoder, homecoder:fn, homecoder:gone/,
    );
    const b = await post('/api/chat', { model: 'homecoder:nope', messages: USER });
    expect(b.status).toBe(404);
    expect(((await b.json()) as { error: string }).error).toMatch(/homecoder:fn/);
    expect((await post('/v1/completions', { model: 'homecoder:nope', prompt: 'x' })).status).toBe(404);
    expect((await post('/api/generate', { model: 'homecoder:nope', prompt: 'x' })).status).toBe(404);
    // The tab's own typed error keeps its status through the socket.
    const gone = await post('/v1/chat/completions', { model: 'homecoder:gone', messages: USER });
    expect(gone.status).toBe(404);
  });

  it('malformed messages and wrong roles are 400s that say what is wrong; nothing reaches the tab', async () => {
    const before = tab.requests.length;
    const cases: Array<[unknown, RegExp]> = [
      [{}, /non-empty list/],
      [{ messages: 'hi' }, /non-empty list/],
      [{ messages: [null] }, /messages\[0\] must be an object/],
      [{ messages: [{ role: 'wizard', content: 'x' }] }, /role must be one of system, user, assistant/],
      [{ messages: [{ role: 'tool', content: 'x' }] }, /role must be one of/],
      [{ messages: [{ role: 'user', content: 7 }] }, /content must be a string/],
      [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, /only text parts/],
      [{ messages: [{ role: 'assistant', content: 'x' }] }, /last message must be from the user/],
      [{ messages: USER, temperature: 'hot' }, /"temperature" must be a number/],
      [{ messages: USER, n: 2 }, /"n" must be between 1 and 1/],
      [{ messages: USER, tools: [{ type: 'function', function: { name: 'f' } }] }, /"tools" is not supported/],
      [{ messages: USER, response_format: { type: 'json_object' } }, /"response_format" is not supported/],
      [{ messages: USER, logprobs: true }, /"logprobs" is not supported/],
    ];
    for (const [body, message] of cases) {
      const r = await post('/v1/chat/completions', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(message);
    }
    const o = await post('/api/chat', { messages: [{ role: 'user', content: 'x', images: ['AAAA'] }] });
    expect(o.status).toBe(400);
    expect(((await o.json()) as { error: string }).error).toMatch(/images/);
    expect((await post('/api/chat', { messages: USER, tools: [{ type: 'function' }] })).status).toBe(400);
    expect((await post('/api/chat', { messages: USER, format: 'json' })).status).toBe(400);
    expect(tab.requests.length).toBe(before);
    // Plain text as the response format is what is served anyway.
    expect((await post('/v1/chat/completions', { messages: USER, response_format: { type: 'text' } })).status).toBe(200);
  });

  it('a huge message is refused by size (413) before it is read; the bridge keeps serving', async () => {
    const r = await post('/v1/chat/completions', { messages: [{ role: 'user', content: 'x'.repeat(200 * 1024) }] });
    expect(r.status).toBe(413);
    expect((await post('/v1/chat/completions', { messages: USER })).status).toBe(200);
  });

  it('a model without a chat template is a 400 saying to use an instruct model or /v1/completions', async () => {
    tab.send({ type: 'serving', info: { ...SERVING, chat: false } });
    try {
      let r = await post('/v1/chat/completions', { messages: USER });
      for (let i = 0; i < 20 && r.status === 200; i++) {
        await new Promise((res) => setTimeout(res, 20));
        r = await post('/v1/chat/completions', { messages: USER });
      }
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(
        /no chat template.*instruct model.*\/v1\/completions/,
      );
    } finally {
      tab.send({ type: 'serving', info: { ...SERVING, named: ['fn', 'gone'], chat: true } });
    }
  });

  it('the tab protocol refuses malformed chat fields: a bad adapter name in serving, a bad error code', async () => {
    for (const bad of [
      { type: 'serving', info: { ...SERVING, named: ['../etc'] } },
      { type: 'serving', info: { ...SERVING, chat: 'yes' } },
      { type: 'error', id: 0, message: 'x', code: 'not a code!' },
    ]) {
      const t = await openTab(origin, { cookie });
      if (typeof t === 'number') throw new Error(`refused: ${t}`);
      t.send(bad);
      expect((await t.closed).code).toBe(1008);
    }
  });
});
