// The bridge's editor routes and tab socket as a real server on loopback: a foreign Host is
// rejected on every editor route, the tab WebSocket only opens from the app's own origin,
// the API key is enforced, bodies are bounded, bad requests get 400 JSON and a request with
// no backend gets 503 saying to open the app. No CORS header is ever sent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startBridge, type Bridge } from '../../src/bridge/server.ts';
import { rawRequest } from '../helpers/http.ts';
import { originAllowed } from '../../src/bridge/tab-socket.ts';

const KEY = 'sesame-1234';
let bridge: Bridge;
let port: number;

function openSocket(origin: string | undefined, host = `127.0.0.1:${port}`): Promise<'open' | number> {
  return new Promise((resolve) => {
    const cookie = `homecoder-tab-${port}=tab-secret`;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/bridge/tab`, { headers: { ...(origin ? { origin } : {}), host, cookie } });
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(0));
  });
}

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    body,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
  });

beforeAll(async () => {
  const appDir = mkdtempSync(join(tmpdir(), 'hc-app-'));
  writeFileSync(join(appDir, 'index.html'), '<!doctype html><title>t</title>');
  bridge = await startBridge({ host: '127.0.0.1', port: 0, appDir, version: '0', apiKey: KEY, maxBodyBytes: 4096, secret: 'tab-secret' });
  port = Number(new URL(bridge.url).port);
});
afterAll(() => bridge.close());

describe('bridge security', () => {
  it('rejects a foreign Host on editor routes (DNS rebinding)', async () => {
    for (const path of ['/v1/completions', '/api/generate', '/infill']) {
      const res = await rawRequest(
        bridge.url,
        `POST ${path} HTTP/1.1\r\nHost: evil.example:${port}\r\nAuthorization: Bearer ${KEY}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
      );
      expect(res, path).toMatch(/^HTTP\/1\.1 403/);
    }
  });

  it('opens the tab WebSocket only from the app’s own origin', async () => {
    expect(await openSocket(`http://127.0.0.1:${port}`)).toBe('open');
    expect(await openSocket(`http://localhost:${port}`)).toBe('open');
    expect(await openSocket('https://evil.example')).toBe(403);
    expect(await openSocket(`http://127.0.0.1:${port + 1}`)).toBe(403); // another local app
    expect(await openSocket('null')).toBe(403);
    expect(await openSocket(undefined)).toBe(403);
    expect(await openSocket(`http://127.0.0.1:${port}`, 'evil.example')).toBe(403);
    expect(originAllowed(`http://[::1]:${port}`, '127.0.0.1', port)).toBe(true);
  });

  it('needs the API key on editor routes: missing or wrong → 401 JSON', async () => {
    const none = await fetch(`http://127.0.0.1:${port}/v1/completions`, {
      method: 'POST',
      body: '{"prompt":"x"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { message: string } }).error.message).toMatch(/API key/);
    const wrong = await post('/api/generate', '{"prompt":"x"}', { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: string }).error).toMatch(/API key/);
    expect((await fetch(`http://127.0.0.1:${port}/api/tags`)).status).toBe(401);
    // The right key passes: with no backend the answer is 503 saying what to do.
    const right = await post('/infill', '{"input_prefix":"a","input_suffix":"b"}');
    expect(right.status).toBe(503);
    expect(JSON.stringify(await right.json())).toMatch(/open the app/);
    // Health checks stay open.
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
  });

  it('answers an oversize body with 413', async () => {
    const big = JSON.stringify({ prompt: 'x'.repeat(10_000) });
    const r = await post('/v1/completions', big);
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/at most 4096/);
    // Without a Content-Length (chunked), the cap still holds.
    const chunked = await rawRequest(
      bridge.url,
      `POST /completion HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
        `2710\r\n${'y'.repeat(10000)}\r\n0\r\n\r\n`,
    );
    expect(chunked).toMatch(/^HTTP\/1\.1 413/);
  });

  it('answers malformed JSON, missing fields and bad values with 400 JSON', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['/v1/completions', '{not json', /not valid JSON/],
      ['/v1/completions', '[1,2]', /JSON object/],
      ['/v1/completions', '{"prompt":"a","max_tokens":"ten"}', /max_tokens/],
      ['/v1/completions', '{"prompt":"a","temperature":9}', /temperature/],
      ['/api/generate', '{"prompt":"a","options":{"top_p":3}}', /top_p/],
      ['/api/generate', '{"prompt":"a","options":{"repeat_penalty":0}}', /repeat_penalty/],
      ['/completion', '{"prompt":"a","repeat_penalty":"high"}', /repeat_penalty/],
      ['/generate', '{"inputs":"a","parameters":{"repetition_penalty":50}}', /repetition_penalty/],
      ['/infill', '{"input_prefix":5}', /input_prefix/],
      ['/infill', '{"input_extra":"nope"}', /input_extra/],
      ['/completion', '{}', /prompt/],
      ['/generate', '{"parameters":{}}', /inputs/],
      ['/v1/completions', '', /no body/],
    ];
    for (const [path, body, msg] of cases) {
      const r = await post(path, body);
      expect(r.status, `${path} ${body}`).toBe(400);
      expect(JSON.stringify(await r.json()), `${path} ${body}`).toMatch(msg);
    }
  });

  it('sends no CORS headers, and refuses wrong methods with 405', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    const foreign = await fetch(`http://127.0.0.1:${port}/v1/models`, {
      headers: { authorization: `Bearer ${KEY}`, origin: 'https://evil.example' },
    });
    expect(foreign.status).toBe(403); // another site's page: refused outright
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await fetch(`http://127.0.0.1:${port}/v1/completions`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
    expect(pre.status).toBe(405);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
  });
});
