// The app as a user gets it: the bridge process serves the built app, headless
// Chromium opens it, walks every page, reads the WebGPU status and runs the GPU check.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { PAGES } from '../../src/ui/shell/pages.ts';
import { browserSkipReason, launchBrowser, startBridgeProcess, type RunningBridge } from '../helpers/browser.ts';
import { closeAll, skipNote } from '../helpers/e2e.ts';

describe.skipIf(!!browserSkipReason)(`the app in headless Chromium${skipNote}`, () => {
  let bridge: RunningBridge;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  /** The page's and workers' CSP violations (the app must run under its strict CSP). */
  const cspViolations: string[] = [];

  beforeAll(async () => {
    bridge = await startBridgeProcess();
    browser = await launchBrowser();
    page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => /Content Security Policy|Refused to/.test(m.text()) && cspViolations.push(m.text()));
    await page.goto(bridge.url); // the printed link, with the secret, as a user opens it
  });
  afterAll(() => closeAll({ browser, bridge }));

  it('shows every step of the path through the navigation', async () => {
    for (const p of PAGES) {
      await page.click(`nav a[data-page="${p.id}"]`);
      await page.waitForSelector(`[data-testid="page-${p.id}"]`);
      expect(await page.textContent('main h1')).toBe(p.title);
      expect(await page.getAttribute(`nav a[data-page="${p.id}"]`, 'aria-current')).toBe('page');
      expect(new URL(page.url()).hash).toBe(`#/${p.id}`);
    }
    // A deep link opens its page directly.
    await page.goto(new URL('#/filter', bridge.origin).href);
    await page.waitForSelector('[data-testid="page-filter"]');
    expect(pageErrors).toEqual([]);
  });

  it('opens by the printed link: the address drops the secret; a browser without it gets the page that says how to get in', async () => {
    expect(new URL(page.url()).search).toBe('');
    const stranger = await browser.newPage(); // a new context: no cookie
    try {
      await stranger.goto(`${bridge.origin}/`);
      expect(await stranger.textContent('body')).toContain('homecoder url');
    } finally {
      await stranger.close();
    }
  });

  it('reads the WebGPU status from the status bar', async () => {
    const status = await page.waitForSelector('[data-testid="gpu-status"]:not([data-state="pending"])', { timeout: 60_000 });
    expect(await status.getAttribute('data-state')).toBe('ok');
    const adapter = (await page.textContent('[data-testid="gpu-adapter"]'))!.trim();
    const limits = (await page.textContent('[data-testid="gpu-limits"]'))!;
    const features = (await page.textContent('[data-testid="gpu-features"]'))!;
    console.log(`[e2e tests] Chromium WebGPU adapter: ${adapter} | ${features} | ${limits.replace(/\s+/g, ' ').trim()}`);
    expect(adapter.length).toBeGreaterThan(0);
    expect(limits).toMatch(/maxBufferSize \d/);
    expect(limits).toMatch(/maxStorageBufferBindingSize \d/);
    expect(features).toMatch(/shader-f16 [✓✗]/);
    expect(await page.textContent('[data-testid="storage"]')).toMatch(/Storage .* of /);
  });

  it('runs a real compute shader in the engine worker and checks it against the CPU', async () => {
    await page.click('[data-testid="gpu-check"]');
    const result = await page.waitForSelector('[data-testid="gpu-check-result"]', { timeout: 120_000 });
    const text = (await result.textContent())!;
    console.log(`[e2e tests] ${text}`);
    expect(text).toContain('GPU check passed');
    // The engine worker's WebSocket got in with the cookie, and nothing broke the CSP.
    const status = (await (await fetch(`${bridge.origin}/bridge/status`, { headers: { cookie: bridge.cookie } })).json()) as {
      backend?: { kind: string };
    };
    expect(status.backend?.kind).toBe('tab');
    expect(cspViolations).toEqual([]);
  });

  it('the bridge answers /health next to the app', async () => {
    const r = await page.request.get(new URL('/health', bridge.origin).href);
    expect(await r.json()).toMatchObject({ status: 'ok' });
  });
});

describe.skipIf(!!browserSkipReason)(`without WebGPU${skipNote}`, () => {
  it('says so plainly and tells the user what to do', async () => {
    const bridge = await startBridgeProcess();
    let browser: Browser | undefined;
    try {
      browser = await launchBrowser();
      const page = await browser.newPage();
      // Hide WebGPU from the page and its workers, as in a browser without it.
      await page.context().addInitScript(() => {
        Object.defineProperty(Object.getPrototypeOf(navigator), 'gpu', { get: () => undefined });
      });
      await page.route('**/*.js', async (route) => {
        const res = await route.fetch();
        const body = await res.text();
        const patched = route.request().url().includes('worker')
          ? `Object.defineProperty(WorkerNavigator.prototype, 'gpu', { get: () => undefined });\n${body}`
          : body;
        await route.fulfill({ response: res, body: patched });
      });
      await page.goto(bridge.url);
      const status = await page.waitForSelector('[data-testid="gpu-status"][data-state="error"]', { timeout: 60_000 });
      const text = (await status.textContent())!;
      expect(text).toContain('WebGPU is not available');
      expect(text).toContain('--enable-unsafe-webgpu --enable-features=Vulkan');
      expect(text).toContain('chrome://flags');
    } finally {
      await browser?.close();
      await bridge.stop();
    }
  });
});
