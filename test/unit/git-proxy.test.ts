// The bridge's git proxy against a real `git http-backend` on loopback: isomorphic-git
// clones through it (branch, tag, private with a token); everything that is not a git
// fetch is refused (not an open proxy); the size cap holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBridge, type Bridge } from '../../src/bridge/server.ts';
import { fetchHttpClient, gitClone, readCommitFiles } from '../../src/data/sources/git.ts';
import { parseRepoUrl, proxiedRepoUrl, proxyTarget, routedRepoUrl } from '../../src/data/sources/git-url.ts';
import { SourceError } from '../../src/data/errors.ts';
import { Pairings } from '../../src/bridge/pairing.ts';
import { startGitServer, type GitServer } from '../helpers/git-server.ts';
import { plantedBytes } from '../helpers/planted.ts';

let server: GitServer;
let bridge: Bridge;
let capped: Bridge;
let tmp: string;
const tree = plantedBytes();
const SECRET = 'tab-secret';
/** The tab's cookie for bridge `b` (the proxy answers only the app). */
const cookieOf = (b: Bridge) => `homecoder-tab-${new URL(b.url).port}=${SECRET}`;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hc-proxy-'));
  fs.writeFileSync(join(tmp, 'index.html'), '<!doctype html>');
  server = await startGitServer();
  server.commit('demo', tree);
  server.tag('demo', 'v1');
  server.commit('private', new Map([['secret.py', new TextEncoder().encode('KEY = 1\n')]]));
  server.requireToken('/private.git', 's3cret');
  // The git server is on loopback: allowed by name, as the tests' own server.
  const allowHosts = [new URL(server.url).host];
  bridge = await startBridge({ host: '127.0.0.1', port: 0, appDir: tmp, version: 't', secret: SECRET, gitProxy: { allowHosts } });
  capped = await startBridge({
    host: '127.0.0.1',
    port: 0,
    appDir: tmp,
    version: 't',
    secret: SECRET,
    gitProxy: { maxResponseBytes: 4000, allowHosts },
  });
});
afterAll(async () => {
  await bridge?.close();
  await capped?.close();
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** A request with its path sent verbatim (fetch would normalise "..") ; resolves to the status. */
function rawStatus(base: string, method: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const r = request(
      { host: u.hostname, port: u.port, method, path, headers: { cookie: `homecoder-tab-${u.port}=${SECRET}`, ...headers } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    r.on('error', reject);
    r.end(method === 'POST' ? '0000' : undefined);
  });
}

async function cloneVia(
  b: Bridge,
  repo: string,
  extra: { ref?: string; token?: string; signal?: AbortSignal; onProgress?: () => void } = {},
) {
  const dir = mkdtempSync(join(tmp, 'clone-'));
  const url = parseRepoUrl(`${server.url}/${repo}.git`);
  const base = fetchHttpClient(extra.signal);
  const http = {
    request: (r: Parameters<typeof base.request>[0]) => base.request({ ...r, headers: { ...r.headers, cookie: cookieOf(b) } }),
  };
  const o = { fs, http, dir, url: proxiedRepoUrl(b.url, url), shownUrl: url.href, ...extra };
  const commit = await gitClone(o);
  return { commit, files: await readCommitFiles(fs, dir, commit) };
}

describe('git proxy', () => {
  it('clones a branch and a tag through the bridge, byte for byte', async () => {
    const before = server.log.length;
    const { files } = await cloneVia(bridge, 'demo');
    expect(new Map(files.map((f) => [f.path, Buffer.from(f.bytes).toString('hex')]))).toEqual(
      new Map([...tree].map(([p, b]) => [p, Buffer.from(b).toString('hex')])),
    );
    expect(server.log.slice(before).map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /demo.git/info/refs?service=git-upload-pack',
      'POST /demo.git/git-upload-pack',
    ]);
    const tagged = await cloneVia(bridge, 'demo', { ref: 'v1' });
    expect(tagged.files.length).toBe(tree.size);
  });

  it('passes a token for a private repository, and says when one is needed', async () => {
    await expect(cloneVia(bridge, 'private')).rejects.toMatchObject({
      code: 'GIT_AUTH',
      message: expect.stringContaining('needs a token'),
    });
    await expect(cloneVia(bridge, 'private', { token: 'wrong' })).rejects.toMatchObject({
      code: 'GIT_AUTH',
      message: expect.stringContaining('refused the token'),
    });
    const { files } = await cloneVia(bridge, 'private', { token: 's3cret' });
    expect(files.map((f) => f.path)).toEqual(['secret.py']);
  });

  it('a clone cancelled mid-way stops with an AbortError', async () => {
    const ctl = new AbortController();
    await expect(cloneVia(bridge, 'demo', { signal: ctl.signal, onProgress: () => ctl.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });

  it('says when a repository does not exist', async () => {
    await expect(cloneVia(bridge, 'nothing-here')).rejects.toMatchObject({ code: 'GIT_NOT_FOUND' });
  });

  it('refuses everything that is not a git fetch over http(s)', async () => {
    const host = new URL(server.url).host;
    const cases: Array<[string, string, Record<string, string>?]> = [
      ['GET', `/git-proxy/http/${host}/demo.git/info/refs?service=git-receive-pack`],
      ['POST', `/git-proxy/http/${host}/demo.git/git-receive-pack`, { 'content-type': 'application/x-git-receive-pack-request' }],
      ['GET', `/git-proxy/http/${host}/demo.git/HEAD`],
      ['GET', `/git-proxy/http/${host}/demo.git/objects/info/packs`],
      ['GET', `/git-proxy/http/${host}/`],
      ['GET', `/git-proxy/file/etc/passwd/info/refs?service=git-upload-pack`],
      ['GET', `/git-proxy/ftp/${host}/demo.git/info/refs?service=git-upload-pack`],
      ['GET', `/git-proxy/http/${host}/a/../demo.git/info/refs?service=git-upload-pack`],
      ['GET', `/git-proxy/http/${host}/a/%2e%2e/demo.git/info/refs?service=git-upload-pack`],
      ['GET', `/git-proxy/http/user:pw@${host}/demo.git/info/refs?service=git-upload-pack`],
      ['GET', `/git-proxy/http/${host}/demo.git/info/refs?service=git-upload-pack&x=1`],
      ['GET', `/git-proxy/http/${host}/demo.git/git-upload-pack`],
      ['GET', `/git-proxy/http/${host}/demo.git/info/refs?service=git-upload-pack`, { origin: 'http://evil.example' }],
      ['GET', `/git-proxy/http/${host}/demo.git/info/refs?service=git-upload-pack`, { 'sec-fetch-site': 'cross-site' }],
    ];
    const before = server.log.length;
    for (const [method, path, headers] of cases) {
      const status = await rawStatus(bridge.url, method, path, headers);
      expect({ path, headers, status }).toEqual({ path, headers, status: 403 });
    }
    expect(server.log.length).toBe(before); // nothing reached the git server
    expect(
      await rawStatus(bridge.url, 'GET', `/git-proxy/http/${host}/demo.git/info/refs?service=git-upload-pack`, { host: 'evil.example' }),
    ).toBe(403);
    expect(await rawStatus(bridge.url, 'GET', `/git-proxy/http/${host}/demo.git/info/refs?service=git-upload-pack`)).toBe(200);
    expect(proxyTarget('GET', `/git-proxy/https/github.com/o/r.git/info/refs?service=git-upload-pack`)).toEqual({
      kind: 'refs',
      url: 'https://github.com/o/r.git/info/refs?service=git-upload-pack',
    });
  });

  it('cuts off a response over the size cap', async () => {
    await expect(cloneVia(capped, 'demo')).rejects.toMatchObject({ code: 'GIT_FAILED' });
  });
});

describe('the git route of a tab', () => {
  const repo = parseRepoUrl('https://github.com/owner/repo.git');
  it('goes through a bridge’s proxy, a CORS proxy the user set, or nowhere (a typed error that says what to do)', () => {
    expect(routedRepoUrl({ kind: 'bridge', origin: 'http://127.0.0.1:8008' }, repo)).toBe(
      'http://127.0.0.1:8008/git-proxy/https/github.com/owner/repo.git',
    );
    expect(routedRepoUrl({ kind: 'cors-proxy', url: 'https://proxy.example/' }, repo)).toBe(
      'https://proxy.example/github.com/owner/repo.git',
    );
    let err: unknown;
    try {
      routedRepoUrl({ kind: 'none' }, repo);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SourceError);
    expect((err as SourceError).code).toBe('GIT_NEEDS_BRIDGE');
    expect((err as SourceError).message).toMatch(/Start the bridge.*CORS proxy URL you trust.*archive/);
  });
});

describe('the git proxy for a tab on another origin paired with the bridge', () => {
  it('clones with the tab’s secret from that origin, and lets that origin read the answers', async () => {
    const APP = 'https://app.example';
    const pairings = new Pairings(undefined);
    const code = pairings.offer(`${APP}/homecoder/`);
    const secret = pairings.claim(APP, code)!;
    const b = await startBridge({
      host: '127.0.0.1',
      port: 0,
      appDir: tmp,
      version: 't',
      pairings,
      gitProxy: { allowHosts: [new URL(server.url).host] },
    });
    try {
      const url = parseRepoUrl(`${server.url}/demo.git`);
      const seen: Array<string | null> = [];
      const clone = async (headers: Record<string, string>) => {
        const base = fetchHttpClient(undefined, undefined, headers);
        const http = {
          request: async (r: Parameters<typeof base.request>[0]) => {
            const res = await base.request(r);
            seen.push((res.headers as Record<string, string>)['access-control-allow-origin'] ?? null);
            return res;
          },
        };
        const dir = mkdtempSync(join(tmp, 'clone-'));
        const route = { kind: 'bridge', origin: b.url, headers } as const;
        return gitClone({ fs, http, dir, url: routedRepoUrl(route, url), shownUrl: url.href });
      };
      expect(await clone({ origin: APP, 'x-homecoder-tab': secret })).toMatch(/^[0-9a-f]{40}$/);
      expect(seen).toEqual([APP, APP]);
      // Another origin with the secret, or this one without it: refused before any git host is asked.
      const before = server.log.length;
      await expect(clone({ origin: 'https://evil.example', 'x-homecoder-tab': secret })).rejects.toThrow();
      await expect(clone({ origin: APP, 'x-homecoder-tab': 'guess' })).rejects.toThrow();
      expect(server.log.length).toBe(before);
    } finally {
      await b.close();
    }
  });
});
