// Commit history as training data, through the real parts: a planted history served by
// `git http-backend` on loopback (and the same repository as a local folder) gives commit
// examples with their messages and git's own diffs, and the rejected ones with reasons,
// in `homecoder filter --history N` and in what training reads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileDecision } from '../../src/data/types.ts';
import { importAndFilter } from '../../src/data/node-pipeline.ts';
import { runCliAsync } from '../helpers/cli.ts';
import { startGitServer, type GitServer } from '../helpers/git-server.ts';
import { buildHistoryRepo, PARSE_V1, type HistoryRepo } from '../helpers/history-repo.ts';

let server: GitServer;
let work: string;
let repo: HistoryRepo;
let url: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'hc-history-'));
  server = await startGitServer();
  repo = buildHistoryRepo(work, 'hist', join(server.root, 'repos'));
  url = `${server.url}/hist.git`;
});
afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

const parse = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

function checkHistory(decisions: FileDecision[]) {
  const commits = decisions.filter((d) => d.kind === 'commit');
  const want = repo.planted.filter((p) => p.reason);
  expect(commits.map((d) => [d.title, d.reason])).toEqual(want.map((p) => [p.subject, p.reason]));
  for (const p of want) {
    const d = commits.find((c) => c.title === p.subject)!;
    expect(d.path).toBe(`commit:${repo.oid[p.subject]}`);
    if (p.detail) expect(d.detail).toContain(p.detail);
  }
}

describe('commit history', () => {
  it('filter --history over a git URL: each non-merge commit decided, merges passed over, summary of the history', async () => {
    const r = await runCliAsync('filter', '--source', url, '--history', '20', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = parse(r.stdout);
    const { summary, sources } = lines.pop();
    checkHistory(lines);
    // Files are counted as before; the history is its own group.
    expect(summary.total).toBe(lines.filter((d: FileDecision) => d.kind !== 'commit').length);
    expect(summary.history).toEqual({
      total: 11,
      accepted: 5,
      rejected: 6,
      byReason: { accepted: 5, too_large: 1, not_text: 1, vendored: 1, generated: 1, bot_author: 1, duplicate: 1 },
    });
    expect(sources[0].history).toEqual({ taken: 11, merges: 1, shallowEdge: false });
    // The duplicate names the newer commit with the same change.
    const dup = lines.find((d: FileDecision) => d.title === 'Handle empty input in parse()');
    expect(dup.detail).toBe(`same changes as commit:${repo.oid['Handle empty input again']}`);
  });

  it('a commit trains as its message and git’s own diff of each kept file', async () => {
    const r = await importAndFilter([url], { history: 20 });
    const commit = (s: string) => r.accepted.find((f) => f.path === `commit:${repo.oid[s]}`)!;
    const again = commit('Handle empty input again');
    expect(again).toMatchObject({ kind: 'commit', test: false, source: url });
    expect(again.text).toBe(`Handle empty input again\n\n${repo.gitDiff(repo.oid['Handle empty input again'])}\n`);
    expect(again.text).toContain(
      '@@ -1,2 +1,4 @@\n def parse(text):\n+    if not text:\n+        return []\n     return text.split(",")\n',
    );
    // The root commit: every file added, the lock file's diff left out.
    const root = commit('Add the parser');
    expect(root.text).toBe(
      'Add the parser\n\n' +
        'diff --git a/package.json b/package.json\n--- /dev/null\n+++ b/package.json\n@@ -0,0 +1,1 @@\n' +
        '+{ "name": "demo", "dependencies": { "lodash": "4.17.20" } }\n' +
        `diff --git a/src/parse.py b/src/parse.py\n--- /dev/null\n+++ b/src/parse.py\n@@ -0,0 +1,2 @@\n${PARSE_V1.replace(/^/gm, '+').slice(0, -1)}`,
    );
    // Shallow: with --history 3 only 3 commits are taken (the merge is not one of them).
    const few = await importAndFilter([url], { history: 3 });
    expect(few.decisions.filter((d) => d.kind === 'commit').map((d) => d.title)).toEqual([
      'Document parse()',
      'Add tokenize()',
      'Handle empty input again',
    ]);
    expect(few.sources[0].history).toEqual({ taken: 3, merges: 1, shallowEdge: false });
  });

  it('a local repository folder gives the same commits; text output shows the history group', async () => {
    const r = await runCliAsync('filter', '--source', repo.dir, '--history', '20', '--json');
    expect(r.status).toBe(0);
    const lines = parse(r.stdout);
    lines.pop();
    checkHistory(lines);
    const text = await runCliAsync('filter', '--source', repo.dir, '--history', '20');
    expect(text.stdout).toMatch(
      /REJECT {3}commit [0-9a-f]{7} "Bump lodash from 4\.17\.20 to 4\.17\.21" — written by a bot: written by dependabot\[bot\]/,
    );
    expect(text.stdout).toMatch(/History: 5 of 11 commits accepted \(1 merge commits passed over\)\./);
  });

  it('--history needs a git source: a clear usage error otherwise', async () => {
    const r = await runCliAsync('filter', '--source', 'test/fixtures/notebooks', '--history', '5');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('--history 5 reads commits from a git repository, and none of the sources is one');
    const bad = await runCliAsync('filter', '--source', url, '--history', 'many');
    expect(bad.stderr).toContain('--history: give a whole number');
    // A folder that is a repository without a commit: a typed error that says so.
    const empty = join(work, 'empty');
    execFileSync('git', ['init', '-q', empty]);
    writeFileSync(join(empty, 'a.py'), 'x = 1\n');
    const e = await runCliAsync('filter', '--source', empty, '--history', '3', '--json');
    expect(e.status).toBe(1);
    expect(JSON.parse(e.stdout).error).toMatchObject({
      code: 'GIT_FAILED',
      message: expect.stringContaining(`Reading the history of ${empty} failed`),
    });
    // train reads the same flags, and says so before any model is opened or source read.
    const t = await runCliAsync(
      'train',
      '--model',
      join(work, 'no-model'),
      '--out',
      join(work, 'run'),
      '--source',
      'test/fixtures/notebooks',
      '--history',
      '5',
    );
    expect(t.status).not.toBe(0);
    expect(t.stderr).toContain('--history 5 reads commits from a git repository');
  });
});
