// `homecoder train --history` end to end on real WebGPU: a local repository with a planted
// history trains on its files and, within --history-share, on its accepted commits in the
// commit format; run.json counts them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { gpuSkipReason, skipNote } from '../helpers/gpu.ts';
import { buildHistoryRepo } from '../helpers/history-repo.ts';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import type { RunRecord } from '../../src/train/run-record.ts';

const model = makeTinyModel({ arch: 'qwen2', layers: 2, hidden: 64, heads: 4, kvHeads: 2, intermediate: 128, seed: 3 });

describe.skipIf(!!gpuSkipReason)(`homecoder train --history${skipNote}`, () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hc-train-history-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('trains on the files and the accepted commits of a local repository', () => {
    const modelDir = join(dir, 'model');
    mkdirSync(modelDir);
    for (const [n, b] of model.files) writeFileSync(join(modelDir, n), b);
    const repo = buildHistoryRepo(dir, 'repo');
    const out = join(dir, 'out');
    const r = runCli(
      'train',
      ...['--model', modelDir, '--source', repo.dir, '--out', out, '--history', '20', '--history-share', '0.9'],
      // The working tree's 100 KiB SQL dump is left out (its commit is rejected as too large anyway).
      ...['--exclude', 'data/**', '--test-files', 'src/tokenize.py'],
      ...[
        '--steps',
        '2',
        '--seq-len',
        '64',
        '--batch-size',
        '1',
        '--warmup',
        '0',
        '--lora-r',
        '2',
        '--no-loss-filter',
        '--no-eval',
        '--json',
      ],
    );
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.find((l) => l.history).history).toMatchObject({ total: 11, accepted: 5 });
    const ds = lines.find((l) => l.dataset).dataset;
    // src/parse.py trains, src/tokenize.py tests (Markdown and JSON are off by default).
    expect(ds).toMatchObject({ trainFiles: 1, testFiles: 1, split: 'marked' });
    expect(ds.commits).toBeGreaterThan(0);
    expect(ds.commits).toBeLessThanOrEqual(5);
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as RunRecord;
    expect(run.status).toBe('done');
    expect(run.dataset.commits).toBe(ds.commits);
    expect(run.settings.historyShare).toBe(0.9);
  });
});
