// Commit history and notebooks in headless Chromium against the real bridge: a repository
// with a planted history, served by `git http-backend` on loopback, is cloned through the
// bridge's git proxy with a history depth; the Filter page shows its commits as their own
// group with counts by reason, each commit decided as planted, a commit's preview is its
// message and diff; an R notebook is accepted as R and previewed as its script, a broken one
// is rejected as linguist_error; the Train page counts the commits apart from the files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, launchBrowser, startBridgeProcess, type RunningBridge } from '../helpers/browser.ts';
import { closeAll, skipNote } from '../helpers/e2e.ts';
import { startGitServer, type GitServer } from '../helpers/git-server.ts';
import { buildHistoryRepo, type HistoryRepo } from '../helpers/history-repo.ts';

const FIX = 'test/fixtures/notebooks';

describe.skipIf(!!browserSkipReason)(`History and notebooks on the Sources and Filter pages${skipNote}`, () => {
  let git: GitServer;
  let bridge: RunningBridge;
  let browser: Browser;
  let page: Page;
  let dir: string;
  let repo: HistoryRepo;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hc-e2e-history-'));
    git = await startGitServer();
    repo = buildHistoryRepo(dir, 'hist', join(git.root, 'repos'));
    git.commit(
      'notebooks',
      new Map([
        ['penguins.ipynb', readFileSync(join(FIX, 'penguins-r.ipynb'))],
        ['broken.ipynb', readFileSync(join(FIX, 'broken.ipynb'))],
      ]),
    );
    bridge = await startBridgeProcess(['--git-allow-host', new URL(git.url).host]); // the test git server is on loopback
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.goto(bridge.url); // the printed link, as a user opens it: sets the tab's cookie
    await page.goto(new URL('#/sources', bridge.origin).href);
  });
  afterAll(() => closeAll({ browser, bridge, servers: [git], dirs: [dir] }));

  async function clone(url: string, depth: number) {
    await page.fill('[data-testid="git-url"]', url);
    await page.fill('[data-testid="git-depth"]', String(depth));
    await page.click('[data-testid="git-clone"]');
    return page.waitForSelector(`[data-testid="source-row"][data-name="${url}"]`, { timeout: 90_000 });
  }

  it('a clone with history depth 20 stores the commits beside the files; the Filter page shows them as their own group', async () => {
    const row = await clone(`${git.url}/hist.git`, 20);
    // The files of the latest commit, and the 11 non-merge commits of its history (the merge is not one).
    expect(await row.getAttribute('data-files')).toBe('8');
    expect(await row.getAttribute('data-commits')).toBe('11');
    expect(await row.textContent()).toContain('11 commits of history');
    await clone(`${git.url}/notebooks.git`, 1);

    await page.goto(new URL('#/filter', bridge.origin).href);
    const summary = await page.waitForSelector('[data-testid="history-summary"]', { timeout: 120_000 });
    await page.waitForSelector('[data-testid="progress"]', { state: 'detached', timeout: 120_000 });
    expect({ total: await summary.getAttribute('data-total'), accepted: await summary.getAttribute('data-accepted') }).toEqual({
      total: '11',
      accepted: '5',
    });
    const counts = await page.$$eval('[data-testid="history-count"]', (els) =>
      Object.fromEntries(els.map((e) => [e.getAttribute('data-reason'), Number(e.getAttribute('data-count'))])),
    );
    expect(counts).toEqual({ accepted: 5, too_large: 1, not_text: 1, vendored: 1, generated: 1, bot_author: 1, duplicate: 1 });
    // Files are counted as before: the commits are not files.
    expect(await page.getAttribute('[data-testid="filter-summary"]', 'data-total')).toBe('10');

    await page.click('[data-testid="tab-history"]');
    const rows = await page.$$eval('[data-testid="decision"]', (els) =>
      els.map((e) => ({
        kind: e.getAttribute('data-kind'),
        title: e.getAttribute('data-title'),
        reason: e.getAttribute('data-reason'),
        detail: e.querySelector('[data-testid="decision-detail"]')?.textContent ?? '',
      })),
    );
    const planted = repo.planted.filter((p) => p.reason);
    expect(rows.map((r) => [r.kind, r.title, r.reason])).toEqual(planted.map((p) => ['commit', p.subject, p.reason]));
    for (const p of planted) if (p.detail) expect(rows.find((r) => r.title === p.subject)!.detail).toContain(p.detail);

    // A commit's preview is what training reads: its message, then git's diff.
    const oid = repo.oid['Handle empty input again'];
    await page.click(`[data-testid="decision"][data-path="commit:${oid}"] button.link`);
    const pre = await page.waitForSelector('[data-testid="preview"] pre');
    expect(await pre.textContent()).toBe(`Handle empty input again\n\n${repo.gitDiff(oid)}\n`);
  });

  it('an R notebook is accepted as R and previewed as its script; a broken one is linguist_error', async () => {
    const counts = await page.waitForSelector('[data-testid="notebook-summary"]');
    expect({ total: await counts.getAttribute('data-total'), accepted: await counts.getAttribute('data-accepted') }).toEqual({
      total: '2',
      accepted: '1',
    });
    await page.click('[data-testid="tab-accepted"]');
    const nb = await page.waitForSelector('[data-testid="decision"][data-path="penguins.ipynb"]');
    expect(await nb.textContent()).toContain('R');
    expect(await nb.textContent()).toContain('notebook: 3 code and 2 markdown cells as R, outputs dropped');
    await page.click('[data-testid="decision"][data-path="penguins.ipynb"] button.link');
    await page.waitForFunction(() => document.querySelector('[data-testid="preview"] h3')?.textContent === 'penguins.ipynb');
    const pre = await page.waitForSelector('[data-testid="preview"] pre');
    expect(await pre.textContent()).toBe(readFileSync(join(FIX, 'penguins-r.expected.R'), 'utf8'));
    await page.click('[data-testid="tab-rejected"]');
    const broken = await page.waitForSelector('[data-testid="decision"][data-path="broken.ipynb"]');
    expect(await broken.getAttribute('data-reason')).toBe('linguist_error');
    expect(await broken.textContent()).toContain('not a readable notebook');
  });

  it('the Train page counts the accepted commits apart from the files', async () => {
    await page.goto(new URL('#/train', bridge.origin).href);
    const data = await page.waitForSelector('[data-testid="source-files"]', { timeout: 60_000 });
    expect(await data.getAttribute('data-commits')).toBe('5');
    // src/parse.py, src/tokenize.py, data/seed.sql and the R notebook; JSON and Markdown are off by default.
    expect((await data.textContent())?.replace(/\s+/g, ' ')).toContain(
      '4 accepted files from your sources (0 marked as test files) and 5 commits of their history',
    );
  });
});
