// `homecoder export --format job --source …` builds the cluster job's dataset without a run and
// without the GPU. Checked against a real `homecoder train` on the same sources and settings
// (lavapipe here): the job from sources and the job from that run's folder hold the same
// blocks (same ids, same masks), the same settings, steps and dataset figures.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import { runCli } from '../helpers/cli.ts';
import { gpuSkipReason, skipNote } from '../helpers/gpu.ts';
import { tinyRepo } from '../helpers/tiny-repo.ts';

const model = makeTinyModel({ arch: 'qwen2', layers: 2, hidden: 64, heads: 4, kvHeads: 2, intermediate: 128, seed: 5 });

describe.skipIf(!!gpuSkipReason)(`export --format job from sources${skipNote}`, () => {
  let dir: string;
  let modelDir: string;
  let repo: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hc-job-src-'));
    modelDir = join(dir, 'model');
    mkdirSync(modelDir);
    for (const [n, b] of model.files) writeFileSync(join(modelDir, n), b);
    repo = join(dir, 'repo');
    mkdirSync(join(repo, 'src'), { recursive: true });
    for (const f of tinyRepo(10)) writeFileSync(join(repo, f.path), f.text.repeat(3));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('equals the dataset, settings and steps of `homecoder train` on the same sources and settings', () => {
    // Settings away from their defaults, so a setting the job dropped would show.
    const settings = ['--seq-len', '40', '--seed', '11', '--fim-rate', '0.7', '--fim-spm-rate', '0.3', '--test-fraction', '0.2'];
    const more = ['--lora-r', '4', '--lora-alpha', '8', '--batch-size', '2', '--steps', '2', '--warmup', '1', '--lr', '1e-3'];
    const sources = ['--source', repo, '--test-files', 'src/{eta,theta}.py'];
    const trained = runCli(
      'train',
      '--model',
      modelDir,
      ...sources,
      '--out',
      join(dir, 'run'),
      ...settings,
      ...more,
      '--no-loss-filter',
      '--no-eval',
    );
    expect(trained.status, trained.stderr).toBe(0);
    const fromRun = runCli(
      'export',
      '--quiet',
      '--model',
      modelDir,
      '--run',
      join(dir, 'run'),
      '--format',
      'job',
      '--out',
      join(dir, 'job-run'),
    );
    expect(fromRun.status, fromRun.stderr).toBe(0);
    // The same command line as train's (--no-loss-filter is what a job does anyway).
    const fromSources = runCli(
      'export',
      '--model',
      modelDir,
      ...sources,
      ...settings,
      ...more,
      '--no-loss-filter',
      '--format',
      'job',
      '--out',
      join(dir, 'job-src'),
    );
    expect(fromSources.status, fromSources.stderr).toBe(0);
    expect(fromSources.stderr).toContain('stage 1: 10 of 10 files accepted');

    const read = (job: string, name: string) => readFileSync(join(dir, job, name), 'utf8');
    for (const name of ['dataset/train.jsonl', 'dataset/test.jsonl']) {
      const a = read('job-run', name);
      const b = read('job-src', name);
      expect(a.split('\n').length).toBeGreaterThan(2);
      expect(b).toBe(a);
    }
    const rows = read('job-src', 'dataset/test.jsonl')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { input_ids: number[]; loss_mask: number[] });
    for (const r of rows) expect(r.loss_mask.length).toBe(r.input_ids.length);
    const jobRun = JSON.parse(read('job-run', 'settings.json'));
    const jobSrc = JSON.parse(read('job-src', 'settings.json'));
    expect(jobSrc.settings).toEqual(jobRun.settings);
    expect(jobSrc.settings).toMatchObject({ seqLen: 40, seed: 11, fimRate: 0.7, fimSpmRate: 0.3, testFraction: 0.2, loraR: 4 });
    expect(jobSrc.steps).toBe(jobRun.steps);
    expect(jobSrc.dataset).toEqual(jobRun.dataset);
    expect(jobSrc.dataset).toMatchObject({ testFiles: 2, split: 'marked' });
    expect(jobSrc.model).toEqual(jobRun.model);
    const compiled = spawnSync('python3', ['-m', 'py_compile', join(dir, 'job-src', 'train.py')], { encoding: 'utf8' });
    expect(compiled.status, compiled.stderr).toBe(0);
  });
});
