// `homecoder filter` as a user runs it: a git URL (real git server on loopback), a folder
// and an archive give the planted decisions; --json is one decision per line + a summary.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { FileDecision } from '../../src/data/types.ts';
import { importAndFilter } from '../../src/data/node-pipeline.ts';
import { archivesOf } from '../helpers/archives.ts';
import { runCliAsync } from '../helpers/cli.ts';
import { startGitServer, type GitServer } from '../helpers/git-server.ts';
import { PLANTED_EXPECTED, PLANTED_INCLUDE, plantedBytes } from '../helpers/planted.ts';

let server: GitServer;
let dir: string;
const tree = plantedBytes();

function checkPlanted(decisions: FileDecision[]) {
  const got = Object.fromEntries(decisions.map((d) => [d.path, d.reason]));
  const want = Object.fromEntries(Object.entries(PLANTED_EXPECTED).map(([p, c]) => [p, c.reason]));
  expect(got).toEqual(want);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hc-cli-filter-'));
  for (const [p, b] of tree) {
    mkdirSync(dirname(join(dir, 'tree', p)), { recursive: true });
    writeFileSync(join(dir, 'tree', p), b);
  }
  writeFileSync(join(dir, 'tree.tar.bz2'), (await archivesOf(tree))['tree.tar.bz2']);
  server = await startGitServer();
  server.commit('demo', tree);
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('homecoder filter', () => {
  it('--json over a git URL: one decision per line, then the summary by reason', async () => {
    const r = await runCliAsync('filter', '--source', `${server.url}/demo.git`, '--include', PLANTED_INCLUDE, '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const summary = lines.pop();
    checkPlanted(lines as FileDecision[]);
    expect(summary.summary).toMatchObject({ total: tree.size, accepted: 4, byReason: { generated: 4, duplicate: 2, vendored: 1 } });
    expect(summary.sources[0]).toMatchObject({ kind: 'git', commit: expect.stringMatching(/^[0-9a-f]{40}$/) });
  });

  it('a folder and an archive give the same decisions; text output names reasons', async () => {
    for (const src of [join(dir, 'tree'), join(dir, 'tree.tar.bz2')]) {
      const r = await runCliAsync('filter', '--source', src, '--include', PLANTED_INCLUDE, '--json');
      checkPlanted(
        r.stdout
          .trim()
          .split('\n')
          .slice(0, -1)
          .map((l) => JSON.parse(l)),
      );
    }
    const text = await runCliAsync('filter', '--source', join(dir, 'tree'));
    expect(text.stdout).toMatch(/REJECT {3}src\/app_copy\.py — duplicate: same content as src\/app\.py/);
    expect(text.stdout).toMatch(/3 of 18 files accepted/);
    expect(text.stdout).toMatch(/generated\s+4/);
  });

  it('errors are typed and say what to do', async () => {
    const r = await runCliAsync('filter', '--source', join(dir, 'nope'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('does not exist');
    const g = await runCliAsync('filter', '--source', 'ssh://host/repo.git');
    expect(g.stderr).toContain('only https');
  });

  it('importAndFilter returns the accepted files as text for training, test marks winning', async () => {
    const r = await importAndFilter([join(dir, 'tree')], { test: ['src/app_copy.py'] });
    const accepted = new Map(r.accepted.map((f) => [f.path, f]));
    // Marked test, the copy wins over the original, which is now its duplicate.
    expect(accepted.get('src/app_copy.py')).toMatchObject({
      test: true,
      source: 'tree',
      text: new TextDecoder().decode(tree.get('src/app.py')),
    });
    expect(accepted.has('src/app.py')).toBe(false);
    expect([...accepted.keys()].sort()).toEqual(['scripts/release', 'src/app_copy.py', 'src/util.ts']);
  });
});
