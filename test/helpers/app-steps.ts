// The user's path through the app's pages, one helper a step, for browser suites that walk it
// on any host (the bridge, a static server, a sub-path): each waits for what the page shows
// when the step is done. `at(hash)` resolves a page's address on that host.
import type { Page } from 'playwright-core';
import { zipSync } from 'fflate';
import { DEMO_REPO } from '../../src/model/fixtures/demo-repo.ts';

export const DEMO_ID = 'homecoder--demo-coder-random';

/** Model page: gets the demo model (from beside the app) and loads it. */
export async function getDemoModel(page: Page, at: (hash: string) => string): Promise<void> {
  await page.goto(at('#/model'));
  await page.click(`[data-testid="download-${DEMO_REPO}"]`);
  await page.waitForSelector(`[data-testid="cached-model"][data-id="${DEMO_ID}"][data-complete="true"]`, { timeout: 60_000 });
  await page.click(`[data-testid="download-${DEMO_REPO}"][data-state="stored"]`);
  await page.waitForSelector(`[data-testid="state-${DEMO_REPO}"][data-state="loaded"]`, { timeout: 60_000 });
}

/** Sources page: adds `files` (path → text) as a .zip archive named `name`. */
export async function addArchive(page: Page, name: string, files: Record<string, string>): Promise<void> {
  await page.click('nav a[data-page="sources"]');
  const enc = new TextEncoder();
  const zip = zipSync(Object.fromEntries(Object.entries(files).map(([p, t]) => [p, enc.encode(t)])));
  await page.setInputFiles('[data-testid="archive-input"]', { name, mimeType: 'application/zip', buffer: Buffer.from(zip) });
  await page.waitForSelector(`[data-testid="source-row"][data-name="${name}"][data-files="${Object.keys(files).length}"]`, {
    timeout: 60_000,
  });
}

/** Sources page: clones the git repository at `url`; resolves with its row's file count, or the error shown (its code). */
export async function cloneRepo(page: Page, url: string): Promise<{ files: number } | { error: string }> {
  await page.click('nav a[data-page="sources"]');
  await page.fill('[data-testid="git-url"]', url);
  await page.click('[data-testid="git-clone"]');
  const shown = await page.waitForSelector(
    `[data-testid="source-row"][data-kind="git"][data-name="${url}"], [data-testid="source-error"]`,
    {
      timeout: 60_000,
    },
  );
  const code = await shown.getAttribute('data-code');
  return code ? { error: code } : { files: Number(await shown.getAttribute('data-files')) };
}

/** Filter page: waits for the stage-1 run over `total` files; returns how many were accepted. */
export async function runFilter(page: Page, total: number): Promise<number> {
  await page.click('nav a[data-page="filter"]');
  const summary = await page.waitForSelector(`[data-testid="filter-summary"][data-total="${total}"]`, { timeout: 120_000 });
  await page.waitForSelector('[data-testid="progress"]', { state: 'detached', timeout: 120_000 });
  return Number(await summary.getAttribute('data-accepted'));
}

/** Train page: a short run on the accepted files with these advanced settings (no loss filter); resolves when it is done. */
export async function trainSteps(page: Page, settings: Record<string, string>): Promise<{ id: string; step: number }> {
  await page.click('nav a[data-page="train"]');
  await page.waitForSelector('[data-testid="train-model"] option', { state: 'attached' });
  if (!(await page.isVisible('[data-setting="seed"]'))) await page.click('details.advanced summary');
  for (const [k, v] of Object.entries(settings)) await page.fill(`[data-setting="${k}"]`, v);
  await page.selectOption('[data-setting="lossFilter"]', 'off');
  await page.click('[data-testid="train-start"]');
  const status = await page.waitForSelector('[data-testid="train-status"][data-status="done"]', { timeout: 300_000 });
  return { id: (await status.getAttribute('data-run-id'))!, step: Number(await status.getAttribute('data-step')) };
}

/** Use page: types `typed` in the Playground and returns the ghost completion shown. */
export async function playgroundGhost(page: Page, typed: string): Promise<string> {
  await page.click('nav a[data-page="use"]');
  await page.click('[data-testid="playground-editor"] .cm-content');
  await page.keyboard.type(typed);
  const ghost = await page.waitForSelector('[data-testid="ghost-text"]', { timeout: 60_000 });
  return (await ghost.textContent()) ?? '';
}
