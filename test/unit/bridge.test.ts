// The bridge as a real HTTP server on loopback, answered to node's fetch and raw sockets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBridge, type Bridge } from '../../src/bridge/server.ts';
import { rawRequest } from '../helpers/http.ts';

let bridge: Bridge;
let appDir: string;

beforeAll(async () => {
  appDir = mkdtempSync(join(tmpdir(), 'hc-app-'));
  writeFileSync(join(appDir, 'index.html'), '<!doctype html><title>Homecoder test</title>');
  mkdirSync(join(appDir, 'assets'));
  writeFileSync(join(appDir, 'assets', 'app.js'), 'console.log(1)');
  bridge = await startBridge({ host: '127.0.0.1', port: 0, appDir, version: '9.9.9', secret: 'tab-secret' });
});
afterAll(() => bridge.close());

describe('bridge', () => {
  it('prints a loopback URL', () => {
    expect(bridge.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });
  it('answers /health', async () => {
    const r = await fetch(new URL('/health', bridge.url));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(await r.json()).toMatchObject({ status: 'ok', name: 'homecoder', version: '9.9.9' });
  });
  it('serves the app (with the tab cookie), its assets, and index.html for client routes', async () => {
    const cookie = { cookie: `homecoder-tab-${new URL(bridge.url).port}=tab-secret` };
    expect(await (await fetch(bridge.url, { headers: cookie })).text()).toContain('Homecoder test');
    const js = await fetch(new URL('/assets/app.js', bridge.url));
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect(await (await fetch(new URL('/train', bridge.url), { headers: cookie })).text()).toContain('Homecoder test');
  });
  it('does not serve files outside the app folder', async () => {
    const res = await rawRequest(bridge.url, 'GET /../../../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(res).not.toContain('root:');
    const res2 = await rawRequest(bridge.url, 'GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(res2).not.toContain('root:');
  });
  it('rejects a non-loopback Host header (DNS rebinding)', async () => {
    const res = await rawRequest(bridge.url, 'GET /health HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n');
    expect(res).toMatch(/^HTTP\/1\.1 403/);
    expect(res).toContain('not allowed');
  });
  it('rejects methods it has no route for', async () => {
    const r = await fetch(new URL('/index.html', bridge.url), { method: 'POST', body: 'x' });
    expect(r.status).toBe(405);
  });
  it('answers a malformed request with 400, and keeps serving', async () => {
    const res = await rawRequest(bridge.url, 'THIS IS NOT HTTP\r\n\r\n');
    expect(res).toMatch(/^HTTP\/1\.1 400/);
    expect((await fetch(new URL('/health', bridge.url))).status).toBe(200);
  });
});
