// The app as a static site (issue 16): dist/ served by a plain static file server under a
// sub-path (/homecoder/, as a GitHub Pages project URL) with no bridge running. In headless
// Chromium the app gets the demo model, imports an archive, filters, trains a few steps and
// shows a ghost completion that the tab serves itself; its service worker reopens it with the
// network cut, with the model, the source and the run still there. Then `homecoder bridge`
// (another origin: another loopback port) pairs with it through the printed link, and the real
// `openai` client gets a completion through the bridge from the tab; a page of a third origin
// gets nothing from the bridge, not even with the tab's secret; the Use page revokes the pairing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import OpenAI from 'openai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserSkipReason, launchBrowser, type RunningBridge } from '../helpers/browser.ts';
import { closeAll, skipNote } from '../helpers/e2e.ts';
import { startServerProcess } from '../helpers/process.ts';
import { servePage, serveStatic, type StaticHost } from '../helpers/static-host.ts';
import { startGitServer, type GitServer } from '../helpers/git-server.ts';
import { addArchive, cloneRepo, DEMO_ID, getDemoModel, playgroundGhost, runFilter, trainSteps } from '../helpers/app-steps.ts';
import { tinyRepo } from '../helpers/tiny-repo.ts';

const DIST = resolve(import.meta.dirname, '../../dist');
const TREE = Object.fromEntries(tinyRepo(6).map((f) => [`project/${f.path}`, f.text]));
const SETTINGS = {
  steps: '3',
  seqLen: '32',
  batchSize: '1',
  warmupSteps: '1',
  evalEvery: '3',
  checkpointEvery: '3',
  checkpointMinutes: '0',
  seed: '7',
};

/** What a page of `origin`'s bridge socket does: opens, or is refused. */
function trySocket(page: Page, bridge: string, protocols: string[]): Promise<string> {
  return page.evaluate(
    ({ bridge, protocols }) =>
      new Promise<string>((done) => {
        const s = new WebSocket(`${bridge.replace(/^http/, 'ws')}/bridge/tab`, protocols);
        s.onopen = () => {
          s.close();
          done('open');
        };
        s.onerror = () => done('refused');
      }),
    { bridge, protocols },
  );
}

describe.skipIf(!!browserSkipReason)(`The app as a static site, with the bridge as a paired companion${skipNote}`, () => {
  let host: StaticHost;
  let evil: StaticHost | undefined;
  let bridge: RunningBridge | undefined;
  let git: GitServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let configDir: string;
  let runtimeDir: string;
  let run: { id: string; step: number };
  const at = (hash: string) => new URL(hash, host.url).href;
  const secret = () =>
    page.evaluate(() => (JSON.parse(localStorage.getItem('homecoder.bridgePairing') ?? '{}') as { secret?: string }).secret);

  beforeAll(async () => {
    configDir = mkdtempSync(join(tmpdir(), 'hc-e2e-static-config-'));
    runtimeDir = mkdtempSync(join(tmpdir(), 'hc-e2e-static-run-'));
    host = await serveStatic(DIST, '/homecoder/');
    git = await startGitServer();
    git.commit('demo', new Map([['a.py', new TextEncoder().encode('x = 1\n')]]));
    browser = await launchBrowser();
    context = await browser.newContext();
    page = await context.newPage();
  });
  afterAll(() => closeAll({ browser, bridge, servers: [host, evil, git], dirs: [configDir, runtimeDir] }));

  it('the build has no absolute asset URLs: index.html, the manifest and the service worker name relative paths', () => {
    const html = readFileSync(join(DIST, 'index.html'), 'utf8');
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]).filter((r) => !r.startsWith('data:'));
    expect(refs.length).toBeGreaterThan(2);
    for (const r of refs) expect(r).toMatch(/^\.\//);
    const manifest = JSON.parse(readFileSync(join(DIST, 'manifest.webmanifest'), 'utf8')) as {
      start_url: string;
      scope: string;
      icons: Array<{ src: string; sizes: string }>;
    };
    expect([manifest.start_url, manifest.scope]).toEqual(['./', './']);
    expect(manifest.icons.map((i) => i.sizes)).toEqual(expect.arrayContaining(['192x192', '512x512']));
    for (const i of manifest.icons) expect(i.src).not.toMatch(/^\//);
    expect(readFileSync(join(DIST, 'sw.js'), 'utf8')).not.toMatch(/"?url"?:\s*"\//);
  });

  it('without a bridge: demo model, archive, filter, a few training steps, a ghost completion served by the tab', async () => {
    await page.goto(at('#/model'));
    await getDemoModel(page, at);
    await addArchive(page, 'src.zip', TREE);
    expect(await runFilter(page, Object.keys(TREE).length)).toBeGreaterThan(0);
    run = await trainSteps(page, SETTINGS);
    expect(run.step).toBe(3);
    const ghost = await playgroundGhost(page, 'def main():\n');
    expect(ghost.length).toBeGreaterThan(0);
    expect(await page.getAttribute('[data-testid="playground-path"]', 'data-path')).toBe('tab');
    expect(Number(await page.getAttribute('[data-testid="latency"]', 'data-ms'))).toBeGreaterThan(0);
    // The pages say what waits for the bridge, and how to start it for this very address.
    const status = await page.waitForSelector('[data-testid="bridge-status"][data-mode="none"]');
    expect(await status.textContent()).toMatch(/editors and git clones need the bridge/);
    expect(await page.textContent('[data-testid="bridge-command"]')).toBe(`npm run -s homecoder -- bridge --app ${host.url}`);
    await page.click('nav a[data-page="sources"]');
    expect(await page.textContent('[data-testid="git-route"][data-route="none"]')).toMatch(/Cloning waits for the bridge/);
    expect(await page.inputValue('[data-testid="git-cors-proxy"]')).toBe(''); // no proxy unless the user sets one
    expect(await cloneRepo(page, `${git.url}/demo.git`)).toEqual({ error: 'GIT_NEEDS_BRIDGE' });
    expect(git.log).toEqual([]);
  }, 600_000);

  it('is installed with a service worker and reopens with the network cut, with its model, source and run', async () => {
    const sw = await page.evaluate(async () => {
      const reg = await navigator.serviceWorker.ready; // installed: everything precached
      return { scope: reg.scope, state: reg.active?.state };
    });
    expect(sw).toEqual({ scope: host.url, state: 'activated' });
    await context.setOffline(true);
    try {
      // The static host is out of reach from the page now.
      expect(
        await page.evaluate(() =>
          fetch('./not-precached.txt').then(
            () => 'reached',
            () => 'offline',
          ),
        ),
      ).toBe('offline');
      await page.goto(at('#/model'));
      await page.reload();
      expect(await page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
      await page.waitForSelector(`[data-testid="cached-model"][data-id="${DEMO_ID}"][data-complete="true"]`, { timeout: 60_000 });
      await page.click('nav a[data-page="sources"]');
      await page.waitForSelector('[data-testid="source-row"][data-name="src.zip"]', { timeout: 30_000 });
      await page.click('nav a[data-page="train"]');
      await page.waitForSelector(`[data-testid="run"][data-run-id="${run.id}"]`, { timeout: 30_000 });
      await page.click('nav a[data-page="use"]');
      await page.waitForSelector('[data-testid="playground"]');
    } finally {
      await context.setOffline(false);
    }
  }, 180_000);

  it('pairs with `homecoder bridge` on another origin through the printed link; an openai client gets a completion from the tab', async () => {
    bridge = await startServerProcess(
      'homecoder bridge',
      [
        'bin/homecoder.mjs',
        'bridge',
        '--port',
        '0',
        '--app',
        host.url,
        '--git-allow-host',
        new URL(git.url).host, // the test git server is on loopback
      ],
      60_000,
      {
        HOMECODER_CONFIG_DIR: configDir,
        HOMECODER_RUNTIME_DIR: runtimeDir,
      },
    );
    await expect.poll(() => bridge!.output(), { timeout: 10_000 }).toMatch(/#pair=/);
    const link = / {2}(http:\/\/\S+#pair=\S+)/.exec(bridge.output())![1];
    expect(link.startsWith(`${host.url}#pair=`)).toBe(true);
    // The model the tab served before the reload is back; opening the link pairs this tab.
    await page.goto(at('#/model'));
    await page.waitForSelector(`[data-testid="loaded-model"]`, { timeout: 60_000 });
    await page.goto(link);
    await page.waitForSelector('[data-testid="bridge-status"][data-mode="paired"][data-state="serving"]', { timeout: 60_000 });
    expect(page.url()).toBe(at('#/use')); // the code left the address
    expect(await secret()).toMatch(/^[\w-]{40,}$/);
    expect(await page.textContent('[data-testid="settings-text"]')).toContain(bridge.origin); // editors point at the bridge
    const client = new OpenAI({ baseURL: `${bridge.origin}/v1`, apiKey: 'unused', maxRetries: 0 });
    const r = await client.completions.create({ model: 'homecoder', prompt: 'def main():\n', max_tokens: 8, temperature: 0 });
    expect(typeof r.choices[0].text).toBe('string');
    expect(r.usage?.prompt_tokens).toBeGreaterThan(0);
    // Served by this tab: its request log on the Use page shows the editor's request.
    await page.waitForSelector('[data-testid="log-entry"][data-route="/v1/completions"]', { timeout: 30_000 });
    // The Playground now goes through the bridge, as an editor does.
    expect(await page.getAttribute('[data-testid="playground-path"]', 'data-path')).toBe('bridge');
    // Git clones go through the paired bridge now.
    expect(await cloneRepo(page, `${git.url}/demo.git`)).toEqual({ files: 1 });
    expect(git.log.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /demo.git/info/refs?service=git-upload-pack',
      'POST /demo.git/git-upload-pack',
    ]);
    // Remembered: after a reload the tab connects by itself.
    await page.reload();
    await page.click('nav a[data-page="use"]');
    await page.waitForSelector('[data-testid="bridge-status"][data-mode="paired"][data-state="serving"]', { timeout: 60_000 });
  }, 180_000);

  it('a page of a third origin gets nothing from the bridge, not even with the tab’s secret', async () => {
    const b = bridge!;
    const s = (await secret())!;
    evil = await servePage('<!doctype html><title>Another site</title><p>Another site</p>');
    const other = await context.newPage();
    await other.goto(evil.url);
    const tried = await other.evaluate(
      async ({ bridge, secret }) => {
        const get = (path: string, init: RequestInit = {}) =>
          fetch(bridge + path, init).then(
            (r) => `read ${r.status}`,
            () => 'blocked',
          );
        const json = { 'content-type': 'application/json' };
        return {
          status: await get('/bridge/status'),
          statusWithSecret: await get('/bridge/status', { headers: { 'x-homecoder-tab': secret } }),
          pair: await get('/bridge/pair', { method: 'POST', headers: json, body: JSON.stringify({ code: 'guess' }) }),
          completion: await get('/v1/completions', { method: 'POST', headers: json, body: '{"prompt":"x","max_tokens":4}' }),
          gitProxy: await get('/git-proxy/https/example.com/r.git/info/refs?service=git-upload-pack', {
            headers: { 'x-homecoder-tab': secret },
          }),
        };
      },
      { bridge: b.origin, secret: s },
    );
    expect(tried).toEqual({ status: 'blocked', statusWithSecret: 'blocked', pair: 'blocked', completion: 'blocked', gitProxy: 'blocked' });
    expect(await trySocket(other, b.origin, [])).toBe('refused');
    expect(await trySocket(other, b.origin, ['homecoder-tab', `homecoder-secret.${s}`])).toBe('refused');
    await other.close();
    // The paired tab still serves.
    await page.waitForSelector('[data-testid="bridge-status"][data-mode="paired"][data-state="serving"]');
  });

  it('offers a newly deployed version, and switches to it when the user says so', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'hc-e2e-static-deploy-'));
    cpSync(DIST, copy, { recursive: true });
    const site = await serveStatic(copy, '/homecoder/', true);
    const p = await context.newPage();
    try {
      await p.goto(`${site.url}#/sources`);
      await p.evaluate(async () => void (await navigator.serviceWorker.ready));
      // A new deployment: another index.html, and a service worker whose precache names its new revision.
      const html = readFileSync(join(copy, 'index.html'), 'utf8');
      writeFileSync(join(copy, 'index.html'), html.replace('<title>Homecoder</title>', '<title>Homecoder (next)</title>'));
      const sw = readFileSync(join(copy, 'sw.js'), 'utf8');
      const revision = /"?url"?:\s*"index\.html",\s*"?revision"?:\s*"([^"]+)"/.exec(sw)?.[1];
      expect(revision).toBeTruthy();
      writeFileSync(join(copy, 'sw.js'), sw.replace(revision!, 'next'));
      await p.reload();
      expect(await p.title()).toBe('Homecoder'); // the installed version until the user says otherwise
      await p.waitForSelector('[data-testid="update-prompt"]', { timeout: 60_000 });
      await Promise.all([p.waitForEvent('load'), p.click('[data-testid="update-reload"]')]);
      await expect.poll(() => p.title(), { timeout: 30_000 }).toBe('Homecoder (next)');
      expect(await p.$('[data-testid="update-prompt"]')).toBeNull();
    } finally {
      await p.close();
      await site.close();
    }
  }, 120_000);

  it('the Use page revokes the pairing: the bridge forgets it and lets the secret in no more', async () => {
    const b = bridge!;
    const s = (await secret())!;
    await page.click('[data-testid="unpair"]');
    await page.waitForSelector('[data-testid="bridge-status"][data-mode="none"]');
    expect(await secret()).toBeUndefined();
    expect(readFileSync(join(configDir, 'pairings.json'), 'utf8')).not.toContain(host.origin);
    expect(await trySocket(page, b.origin, ['homecoder-tab', `homecoder-secret.${s}`])).toBe('refused');
    const r = await fetch(`${b.origin}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'homecoder', prompt: 'x', max_tokens: 4 }),
    });
    expect(r.status).toBe(503); // nothing serves now
  });
});
