// Attacks on the bridge through its real parts (issue 11): the bridge as its own process
// (`npm start`), a `ws` client forging Origin and cookies as any local process can, raw HTTP
// requests shaped like a web page's no-cors requests, and git upstreams on loopback (the real
// `git http-backend` server, and small servers that answer what a hostile host would).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startBridgeProcess, type RunningBridge } from '../helpers/browser.ts';
import { startServerProcess } from '../helpers/process.ts';
import { startGitServer, type GitServer } from '../helpers/git-server.ts';
import { doneMessage, openTab, SERVING, type TabClient } from '../helpers/tab-client.ts';

// Each test starts bridge processes (and `homecoder url`): seconds each on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const appDir = mkdtempSync(join(tmpdir(), 'hc-hard-app-'));
writeFileSync(join(appDir, 'index.html'), '<!doctype html><title>Homecoder app</title><script type="module" src="/assets/a.js"></script>');
const runtimeDir = mkdtempSync(join(tmpdir(), 'hc-hard-run-'));
const configDir = mkdtempSync(join(tmpdir(), 'hc-hard-config-'));
const ENV = { HOMECODER_RUNTIME_DIR: runtimeDir, HOMECODER_CONFIG_DIR: configDir };
const bridges: RunningBridge[] = [];

async function bridgeWith(args: string[] = []): Promise<RunningBridge> {
  const b = await startBridgeProcess(['--app-dir', appDir, ...args], ENV);
  bridges.push(b);
  return b;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request with exactly these headers (no fetch defaults such as a text/plain body type). */
function http(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const r = request({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(body);
  });
}

const homecoder = (...args: string[]) =>
  spawnSync(process.execPath, ['bin/homecoder.mjs', ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...ENV } });

const INFILL = JSON.stringify({ input_prefix: 'a', input_suffix: 'b' });
const JSON_TYPE = { 'content-type': 'application/json' };

let git: GitServer;
/** A bridge with default options, shared by the tests that need nothing else (fewer processes). */
let plain: RunningBridge;
beforeAll(async () => {
  plain = await bridgeWith();
  git = await startGitServer();
  git.commit('demo', new Map([['a.py', new TextEncoder().encode('x = 1\n')]]));
});
afterAll(async () => {
  for (const b of bridges) await b.stop();
  await git?.close();
});

describe('1. the tab proves itself with the printed secret, not its Origin', () => {
  let b: RunningBridge;
  beforeAll(() => {
    b = plain;
  });

  it('prints the app link with a secret; the link sets an HttpOnly SameSite=Strict cookie and redirects to the clean URL', async () => {
    expect(b.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{40,}$/);
    const login = await http(b.origin, 'GET', `/${new URL(b.url).search}`);
    expect(login.status).toBe(302);
    expect(login.headers.location).toBe('/');
    const cookie = String(login.headers['set-cookie']);
    expect(cookie).toContain(b.cookie);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const app = await http(b.origin, 'GET', '/', { cookie: b.cookie });
    expect(app.status).toBe(200);
    expect(app.body).toContain('Homecoder app');
  });

  it('the bare URL (or a wrong secret) gives a page that says how to get in', async () => {
    for (const path of ['/', '/?token=wrong']) {
      const r = await http(b.origin, 'GET', path);
      expect(r.status, path).toBe(401);
      expect(r.body, path).toContain('homecoder url');
      expect(r.body, path).not.toContain('Homecoder app');
    }
  });

  it('a local process that forges the app’s Origin cannot attach as the tab; the cookie can', async () => {
    expect(await openTab(b.origin, {})).toBe(401);
    expect(await openTab(b.origin, { cookie: `${b.cookie.split('=')[0]}=guess` })).toBe(401);
    expect(await openTab(b.origin, { origin: 'https://evil.example', cookie: b.cookie })).toBe(403);
    const tab = await openTab(b.origin, { cookie: b.cookie });
    expect(typeof tab).toBe('object');
    (tab as TabClient).ws.close();
  });

  it('/bridge/status and /git-proxy need the cookie', async () => {
    expect((await http(b.origin, 'GET', '/bridge/status')).status).toBe(401);
    expect((await http(b.origin, 'GET', '/bridge/status', { cookie: b.cookie })).status).toBe(200);
    const refs = `/git-proxy/http/${new URL(git.url).host}/demo.git/info/refs?service=git-upload-pack`;
    const before = git.log.length;
    const refused = await http(b.origin, 'GET', refs);
    expect(refused.status).toBe(401);
    expect(refused.headers['content-security-policy']).toBe('sandbox');
    expect(git.log.length).toBe(before);
  });

  it('`homecoder url` prints the link from a 0600 file that is removed when the bridge stops', async () => {
    const own = await bridgeWith();
    const r = homecoder('url', '--port', new URL(own.url).port);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(own.url);
    const file = readdirSync(runtimeDir).find((n) => n === `bridge-${new URL(own.url).port}.json`)!;
    expect(statSync(join(runtimeDir, file)).mode & 0o777).toBe(0o600);
    expect(statSync(runtimeDir).mode & 0o777).toBe(0o700);
    await own.stop();
    expect(existsSync(join(runtimeDir, file))).toBe(false);
    const gone = homecoder('url', '--port', new URL(own.url).port);
    expect(gone.status).toBe(1);
    expect(gone.stderr).toContain('npm start');
  });
});

describe('2. the git proxy passes only git content; pages get a strict CSP', () => {
  let upstream: Server;
  let upHost: string;
  let b: RunningBridge;
  beforeAll(async () => {
    // A host that answers HTML with a script, as a hostile server would.
    upstream = createServer((req, res) => {
      if (req.url?.startsWith('/html/')) {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<script>alert(document.cookie)</script>');
      } else if (req.url?.startsWith('/err/')) {
        res.writeHead(404, { 'content-type': 'text/html' });
        res.end('<script>alert(1)</script>');
      } else if (req.url?.startsWith('/sniff/')) {
        res.writeHead(200);
        res.end('<html><script>alert(2)</script>');
      }
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upHost = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    b = await bridgeWith(['--git-allow-host', upHost, '--git-allow-host', new URL(git.url).host]);
  });
  afterAll(() => new Promise<void>((r) => upstream.close(() => r())));

  it('refuses an upstream that answers HTML (or nothing typed); every answer is nosniff + sandboxed', async () => {
    for (const [repo, status] of [
      ['html', 502],
      ['err', 404],
      ['sniff', 502],
    ] as const) {
      const r = await http(b.origin, 'GET', `/git-proxy/http/${upHost}/${repo}/r.git/info/refs?service=git-upload-pack`, {
        cookie: b.cookie,
      });
      expect(r.status, repo).toBe(status);
      expect(r.headers['content-type'], repo).toMatch(/^application\/json/);
      expect(r.body, repo).not.toContain('<script>');
      expect(r.headers['x-content-type-options'], repo).toBe('nosniff');
      expect(r.headers['content-security-policy'], repo).toBe('sandbox');
    }
    const ok = await http(b.origin, 'GET', `/git-proxy/http/${new URL(git.url).host}/demo.git/info/refs?service=git-upload-pack`, {
      cookie: b.cookie,
    });
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('application/x-git-upload-pack-advertisement');
    expect(ok.headers['x-content-type-options']).toBe('nosniff');
    expect(ok.headers['content-security-policy']).toBe('sandbox');
  });

  it('serves the app’s pages under a strict CSP: no inline script, connections to itself and the hub only', async () => {
    const r = await http(b.origin, 'GET', '/', { cookie: b.cookie });
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(csp).toMatch(/connect-src 'self' https:\/\/huggingface\.co [^;]*$|connect-src 'self' https:\/\/huggingface\.co [^;]*;/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(r.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe('3. the git proxy never reaches loopback, private or link-local addresses', () => {
  it('refuses them after DNS resolution, in any spelling, unless the host is allowed by name', async () => {
    const b = plain;
    const port = new URL(git.url).port;
    const hosts = [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `0x7f000001:${port}`,
      `2130706433:${port}`,
      `127.1:${port}`,
      `[::ffff:127.0.0.1]:${port}`,
      `[::1]:${port}`,
      '169.254.169.254',
      '10.0.0.1',
      '172.16.0.1',
      '192.168.1.1',
      '100.64.0.1',
      '0.0.0.0',
      '[fe80::1]',
      '[fc00::1]',
      '[fd00:ec2::254]',
    ];
    const before = git.log.length;
    for (const h of hosts) {
      const r = await http(b.origin, 'GET', `/git-proxy/http/${h}/demo.git/info/refs?service=git-upload-pack`, { cookie: b.cookie });
      expect({ h, status: r.status }).toEqual({ h, status: 403 });
      expect(r.body, h).toMatch(/public hosts only|not a git fetch|forwards only/);
    }
    expect(git.log.length).toBe(before); // nothing reached the loopback git server
    const allowed = await bridgeWith(['--git-allow-host', `127.0.0.1:${port}`]);
    const ok = await http(allowed.origin, 'GET', `/git-proxy/http/127.0.0.1:${port}/demo.git/info/refs?service=git-upload-pack`, {
      cookie: allowed.cookie,
    });
    expect(ok.status).toBe(200);
    // Only that host and port: another loopback port stays refused.
    const other = await http(allowed.origin, 'GET', `/git-proxy/http/127.0.0.1:1/demo.git/info/refs?service=git-upload-pack`, {
      cookie: allowed.cookie,
    });
    expect(other.status).toBe(403);
  });
});

describe('4. with --api-key every route but static files and /health needs the key or the tab cookie', () => {
  it('covers /bridge/status, /git-proxy and the WebSocket', async () => {
    const key = 'k3y-for-tests';
    const b = await bridgeWith(['--api-key', key, '--git-allow-host', new URL(git.url).host]);
    const bearer = { authorization: `Bearer ${key}` };
    const refs = `/git-proxy/http/${new URL(git.url).host}/demo.git/info/refs?service=git-upload-pack`;
    expect((await http(b.origin, 'GET', '/bridge/status')).status).toBe(401);
    expect((await http(b.origin, 'GET', '/bridge/status', bearer)).status).toBe(200);
    expect((await http(b.origin, 'GET', '/bridge/status', { cookie: b.cookie })).status).toBe(200);
    expect((await http(b.origin, 'GET', refs)).status).toBe(401);
    expect((await http(b.origin, 'GET', refs, bearer)).status).toBe(200);
    expect((await http(b.origin, 'POST', '/infill', JSON_TYPE, INFILL)).status).toBe(401);
    expect((await http(b.origin, 'POST', '/infill', { ...JSON_TYPE, cookie: b.cookie }, INFILL)).status).toBe(503); // in; no model
    expect(await openTab(b.origin, bearer)).toBe(401); // the socket is the tab's alone
    expect((await http(b.origin, 'GET', '/health')).status).toBe(200);
    expect((await http(b.origin, 'GET', '/assets/missing.js')).status).toBe(404); // static: open
  });
});

describe('5. beyond loopback', () => {
  it('refuses to listen on another address without an API key, saying why and how', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/bridge/main.ts', '--host', '0.0.0.0', '--port', '0', '--no-build', '--app-dir', appDir],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('without an API key');
    expect(r.stderr).toContain('--api-key');
    expect(r.stdout).not.toContain('running at');
  });

  const lan = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  it.skipIf(!lan)('with a key, a LAN peer’s Host: localhost does not pass the Host check', async () => {
    const b = await bridgeWith(['--host', '0.0.0.0', '--api-key', 'lan-key']);
    const port = new URL(b.url).port;
    const viaLan = `http://${lan}:${port}`;
    expect((await http(viaLan, 'GET', '/health', { host: `localhost:${port}` })).status).toBe(403);
    expect((await http(viaLan, 'GET', '/health', { host: `127.0.0.1:${port}` })).status).toBe(403);
    expect((await http(b.origin, 'GET', '/health', { host: `localhost:${port}` })).status).toBe(200); // really local
  });
});

describe('6. cross-site requests from web pages are refused', () => {
  it('refuses a foreign Origin, Sec-Fetch-Site cross-site/same-site, and POST bodies that are not JSON', async () => {
    const b = plain;
    const port = Number(new URL(b.url).port);
    const textPlain = { 'content-type': 'text/plain;charset=UTF-8' };
    const cases: Array<[string, Record<string, string>, number]> = [
      ['/v1/completions', { ...textPlain, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, 403],
      ['/api/generate', { ...textPlain, 'sec-fetch-site': 'cross-site' }, 403],
      ['/infill', { ...JSON_TYPE, origin: `http://127.0.0.1:${port + 1}`, 'sec-fetch-site': 'same-site' }, 403],
      ['/infill', { ...JSON_TYPE, 'sec-fetch-site': 'same-site' }, 403],
      ['/v1/completions', textPlain, 415], // an older browser without Sec-Fetch-*
      ['/api/generate', { 'content-type': 'application/x-www-form-urlencoded' }, 415],
      ['/completion', { 'content-type': 'multipart/form-data; boundary=x' }, 415],
    ];
    const body = JSON.stringify({ prompt: 'x', model: 'homecoder', max_tokens: 4096 });
    for (const [path, headers, status] of cases) {
      const r = await http(b.origin, 'POST', path, headers, body);
      expect({ path, headers, status: r.status }).toEqual({ path, headers, status });
    }
    // What editors send passes (no model here: 503 says what to do), and so does the app itself.
    expect((await http(b.origin, 'POST', '/v1/completions', JSON_TYPE, body)).status).toBe(503);
    expect(
      (await http(b.origin, 'POST', '/infill', { ...JSON_TYPE, origin: b.origin, 'sec-fetch-site': 'same-origin' }, INFILL)).status,
    ).toBe(503);
  });
});

describe('7. a tab of another origin pairs with `homecoder bridge`; nothing else gets in', () => {
  const APP = 'https://app.example/homecoder/';
  const APP_ORIGIN = 'https://app.example';
  const EVIL = 'https://evil.example';
  let b: RunningBridge;
  let secret = '';
  /** `homecoder bridge --app APP` as its own process, and the pairing link it printed. */
  async function companion(): Promise<{ bridge: RunningBridge; link: URL }> {
    const bridge = await startServerProcess('bridge', ['bin/homecoder.mjs', 'bridge', '--port', '0', '--app', APP], 60_000, ENV);
    bridges.push(bridge);
    await vi.waitFor(() => expect(bridge.output()).toMatch(/#pair=/), { timeout: 10_000 });
    return { bridge, link: new URL(/ {2}(https:\/\/\S+#pair=\S+)/.exec(bridge.output())![1]) };
  }
  const pairWith = (origin: string, code: string) =>
    http(b.origin, 'POST', '/bridge/pair', { ...JSON_TYPE, origin, 'sec-fetch-site': 'cross-site' }, JSON.stringify({ code }));
  const asTab = (origin: string, s: string) => openTab(b.origin, { origin }, undefined, ['homecoder-tab', `homecoder-secret.${s}`]);
  let code = '';

  beforeAll(async () => {
    const { bridge, link } = await companion();
    b = bridge;
    // The code rides in the fragment (never sent to the app's host), with this bridge's address.
    expect(link.origin + link.pathname).toBe(APP);
    expect(link.search).toBe('');
    const frag = new URLSearchParams(link.hash.slice(1));
    expect(frag.get('bridge')).toBe(b.origin);
    code = frag.get('pair')!;
    expect(code).toMatch(/^[\w-]{30,}$/);
  });

  it('needs the app’s address, and says how to give it', () => {
    const none = spawnSync(process.execPath, ['bin/homecoder.mjs', 'bridge', '--port', '0'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, ...ENV, HOMECODER_CONFIG_DIR: mkdtempSync(join(tmpdir(), 'hc-hard-none-')), HOMECODER_APP_URL: '' },
    });
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/--app https:\/\/you\.github\.io\/homecoder\/.*npm start/);
    expect(homecoder('bridge', '--port', '0', '--app', 'file:///tmp/app/').stderr).toMatch(/must be http\(s\)/);
  });

  it('answers the Private Network Access preflight for the app’s origin only', async () => {
    const preflight = (origin: string) =>
      http(b.origin, 'OPTIONS', '/bridge/pair', {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
        'access-control-request-private-network': 'true',
      });
    const ok = await preflight(APP_ORIGIN);
    expect(ok.status).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
    expect(ok.headers['access-control-allow-private-network']).toBe('true');
    expect(ok.headers['access-control-allow-headers']).toBe('content-type');
    for (const origin of [EVIL, `http://127.0.0.1:${Number(new URL(b.origin).port) + 1}`, 'null']) {
      const no = await preflight(origin);
      expect(no.status).toBe(403);
      expect(no.headers['access-control-allow-origin']).toBeUndefined();
      expect(no.headers['access-control-allow-private-network']).toBeUndefined();
    }
  });

  it('trades the one-time code for a secret from the app’s origin only, once', async () => {
    const evil = await pairWith(EVIL, code); // another page that learnt the code: refused, and the code stays unspent
    expect(evil.status).toBe(403);
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    expect(
      (await http(b.origin, 'POST', '/bridge/pair', { origin: APP_ORIGIN, 'content-type': 'text/plain' }, JSON.stringify({ code }))).status,
    ).toBe(415);
    const paired = await pairWith(APP_ORIGIN, code);
    expect(paired.status).toBe(200);
    expect(paired.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
    secret = (JSON.parse(paired.body) as { secret: string }).secret;
    expect(secret).toMatch(/^[\w-]{40,}$/);
    expect((await pairWith(APP_ORIGIN, code)).status).toBe(403); // spent
    // Kept as a hash, in a 0600 file in a 0700 folder.
    const file = join(configDir, 'pairings.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(configDir).mode & 0o777).toBe(0o700);
    expect(readFileSync(file, 'utf8')).not.toContain(secret);
    expect(readFileSync(file, 'utf8')).toContain(APP_ORIGIN);
  });

  it('lets in the paired origin with its secret; no other origin, secret or cookie-less page', async () => {
    expect(await asTab(EVIL, secret)).toBe(401); // the secret from another origin
    expect(await asTab(APP_ORIGIN, `${secret.slice(0, -2)}xx`)).toBe(401);
    expect(await openTab(b.origin, { origin: APP_ORIGIN })).toBe(403); // no secret: only the bridge's own origin (with its cookie)
    const status = (origin: string, s?: string) =>
      http(b.origin, 'GET', '/bridge/status', { origin, 'sec-fetch-site': 'cross-site', ...(s ? { 'x-homecoder-tab': s } : {}) });
    for (const [origin, s] of [
      [APP_ORIGIN, undefined],
      [EVIL, secret],
      [APP_ORIGIN, 'guess'],
    ] as const) {
      const r = await status(origin, s);
      expect(r.status).toBe(403);
      expect(r.headers['access-control-allow-origin']).toBeUndefined();
    }
    const ok = await status(APP_ORIGIN, secret);
    expect(ok.status).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
    // The git proxy too: not for a page without the secret.
    const refs = `/git-proxy/http/${new URL(git.url).host}/demo.git/info/refs?service=git-upload-pack`;
    expect((await http(b.origin, 'GET', refs, { origin: EVIL, 'x-homecoder-tab': secret })).status).toBe(401);
    // The paired tab serves an editor's completion.
    const tab = await asTab(APP_ORIGIN, secret);
    expect(typeof tab).toBe('object');
    const t = tab as TabClient;
    expect(t.ws.protocol).toBe('homecoder-tab');
    t.ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as { type: string; id: number };
      if (m.type === 'complete') t.send(doneMessage(m.id, 'paired!'));
    });
    t.send({ type: 'serving', info: SERVING });
    await vi.waitFor(async () => expect(JSON.parse((await status(APP_ORIGIN, secret)).body).backend?.serving).toBeTruthy());
    const r = await http(
      b.origin,
      'POST',
      '/v1/completions',
      JSON_TYPE,
      JSON.stringify({ model: 'homecoder', prompt: 'x', max_tokens: 4 }),
    );
    expect(JSON.parse(r.body).choices[0].text).toBe('paired!');
    t.ws.close();
  });

  it('remembers the pairing across restarts until the tab revokes it; then its socket closes', async () => {
    await b.stop();
    const { bridge } = await companion();
    b = bridge;
    const tab = await asTab(APP_ORIGIN, secret);
    expect(typeof tab).toBe('object');
    expect((await http(b.origin, 'POST', '/bridge/unpair', { origin: EVIL, 'x-homecoder-tab': secret })).status).toBe(403);
    expect((await http(b.origin, 'POST', '/bridge/unpair', { origin: APP_ORIGIN, 'x-homecoder-tab': 'guess' })).status).toBe(403);
    const revoked = await http(b.origin, 'POST', '/bridge/unpair', { origin: APP_ORIGIN, 'x-homecoder-tab': secret });
    expect(revoked.status).toBe(200);
    expect(await (tab as TabClient).closed).toEqual({ code: 4001, reason: 'pairing revoked' });
    expect(await asTab(APP_ORIGIN, secret)).toBe(401);
    expect(readFileSync(join(configDir, 'pairings.json'), 'utf8')).not.toContain(APP_ORIGIN);
  });
});

describe('the tab socket: malformed messages close that socket and nothing else', () => {
  it('survives `null`, junk, and `done` with result null', async () => {
    const b = plain;
    for (const junk of ['null', '"x"', '[]', '{"type":"text","id":0}', '{"type":"serving","info":{"model":1}}', 'not json']) {
      const tab = (await openTab(b.origin, { cookie: b.cookie })) as TabClient;
      tab.ws.send(junk);
      const c = await tab.closed;
      expect({ junk, code: c.code }).toEqual({ junk, code: 1008 });
      expect(c.reason).toMatch(/invalid message/);
    }
    // A message over the size limit, and a frame that is not UTF-8: closed by the socket layer.
    const big = (await openTab(b.origin, { cookie: b.cookie })) as TabClient;
    big.ws.send('x'.repeat(9 * 1024 * 1024));
    expect((await big.closed).code).toBe(1009);
    const binary = (await openTab(b.origin, { cookie: b.cookie })) as TabClient;
    binary.ws.send(Buffer.from([0xff, 0xfe, 0xfd]), { binary: false });
    expect((await binary.closed).code).toBe(1007);
    expect((await http(b.origin, 'GET', '/health')).status).toBe(200);
    // A tab that answers a request with `done` and result null: its socket closes, the editor gets an error.
    const bad = (await openTab(b.origin, { cookie: b.cookie }, (m, t) => t.send({ type: 'done', id: m.id, result: null }))) as TabClient;
    bad.send({ type: 'serving', info: SERVING });
    await new Promise((r) => setTimeout(r, 100));
    const r = await http(b.origin, 'POST', '/infill', JSON_TYPE, INFILL);
    expect(r.status).toBe(500);
    expect((await bad.closed).code).toBe(1008);
    expect((await http(b.origin, 'GET', '/health')).status).toBe(200); // the bridge lives
    // A good tab still serves afterwards.
    const good = (await openTab(b.origin, { cookie: b.cookie }, (m, t) => t.send(doneMessage(m.id, 'fine')))) as TabClient;
    good.send({ type: 'serving', info: SERVING });
    await new Promise((r) => setTimeout(r, 100));
    const ok = await http(b.origin, 'POST', '/infill', JSON_TYPE, INFILL);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).content).toBe('fine');
    good.ws.close();
  });
});

describe('the relay: deadlines per request, a bounded editor list', () => {
  it('answers 504 when a tab never starts or never finishes, and the queue moves on', async () => {
    const b = await bridgeWith(['--first-token-timeout', '1', '--request-timeout', '2.5']);
    // Silent on the first request; one token then silence on the second; answers the third.
    let n = 0;
    const tab = (await openTab(b.origin, { cookie: b.cookie }, (m, t) => {
      n++;
      if (n === 2) t.send({ type: 'text', id: m.id, delta: 'x' });
      if (n === 3) t.send(doneMessage(m.id, 'third'));
    })) as TabClient;
    tab.send({ type: 'serving', info: SERVING });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const first = http(b.origin, 'POST', '/infill', { ...JSON_TYPE, 'x-homecoder-client': 'a' }, INFILL);
    const second = http(b.origin, 'POST', '/infill', { ...JSON_TYPE, 'x-homecoder-client': 'b' }, INFILL);
    const third = http(b.origin, 'POST', '/infill', { ...JSON_TYPE, 'x-homecoder-client': 'c' }, INFILL);
    const r1 = await first;
    expect(r1.status).toBe(504);
    expect(r1.body).toContain('did not answer in time');
    expect(Date.now() - t0).toBeLessThan(2000);
    const r2 = await second;
    expect(r2.status).toBe(504);
    expect(r2.body).toContain('whole request');
    const r3 = await third;
    expect(r3.status).toBe(200);
    expect(JSON.parse(r3.body).content).toBe('third');
    const status = JSON.parse((await http(b.origin, 'GET', '/bridge/status', { cookie: b.cookie })).body);
    expect(status).toMatchObject({ queued: 0, running: 0 });
    tab.ws.close();
  });

  it('keeps only the most recent editors in /bridge/status', async () => {
    const b = plain;
    const tab = (await openTab(b.origin, { cookie: b.cookie }, (m, t) => t.send(doneMessage(m.id)))) as TabClient;
    tab.send({ type: 'serving', info: SERVING });
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 60; i++) await http(b.origin, 'POST', '/infill', { ...JSON_TYPE, 'x-homecoder-client': `made-up-${i}` }, INFILL);
    const status = JSON.parse((await http(b.origin, 'GET', '/bridge/status', { cookie: b.cookie })).body) as {
      editors: Array<{ client: string }>;
    };
    expect(status.editors.length).toBe(32);
    expect(status.editors.map((e) => e.client)).toContain('made-up-59');
    expect(status.editors.map((e) => e.client)).not.toContain('made-up-0');
    tab.ws.close();
  });
});

describe('the git proxy streams with backpressure and caps the size', () => {
  let upstream: Server;
  let upHost: string;
  let sent = 0;
  beforeAll(async () => {
    // A fast upstream of 1 GiB that writes only when its socket drains, counting what it sent.
    upstream = createServer((req, res) => {
      const chunk = Buffer.alloc(1 << 20, 0x30);
      const sized = req.url?.includes('sized');
      res.writeHead(200, {
        'content-type': 'application/x-git-upload-pack-advertisement',
        ...(sized ? { 'content-length': String(8 << 20) } : {}),
      });
      const total = sized ? 8 : 1024;
      let i = 0;
      const pump = () => {
        while (i < total) {
          i++;
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => (i = total));
      pump();
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upHost = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    upstream.closeAllConnections();
    return new Promise<void>((r) => upstream.close(() => r()));
  });

  it('a client that stops reading stops the upstream (no pile-up in the bridge)', async () => {
    const b = await bridgeWith(['--git-allow-host', upHost]);
    const u = new URL(b.origin);
    sent = 0;
    await new Promise<void>((resolve, reject) => {
      const r = request(
        {
          host: u.hostname,
          port: u.port,
          path: `/git-proxy/http/${upHost}/big/r.git/info/refs?service=git-upload-pack`,
          headers: { cookie: b.cookie },
        },
        (res) => {
          res.pause(); // a slow client: reads nothing
          setTimeout(() => {
            res.destroy();
            resolve();
          }, 2500);
        },
      );
      r.on('error', reject);
      r.end();
    });
    expect(sent).toBeLessThan(64 << 20); // today's proxy buffered the whole GiB
  });

  it('past the cap: a clear 502 when the size is declared, a cut-off otherwise', async () => {
    const b = await startBridgeProcess(['--app-dir', appDir, '--git-allow-host', upHost], { ...ENV, HOMECODER_GIT_PROXY_MAX_MB: '4' });
    bridges.push(b);
    const sized = await http(b.origin, 'GET', `/git-proxy/http/${upHost}/sized/r.git/info/refs?service=git-upload-pack`, {
      cookie: b.cookie,
    });
    expect(sized.status).toBe(502);
    expect(sized.body).toContain('HOMECODER_GIT_PROXY_MAX_MB');
    const streamed = http(b.origin, 'GET', `/git-proxy/http/${upHost}/big/r.git/info/refs?service=git-upload-pack`, { cookie: b.cookie });
    await expect(streamed).rejects.toThrow(); // truncated: the client never sees a complete answer
  });
});
