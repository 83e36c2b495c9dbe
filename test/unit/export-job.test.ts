// `homecoder export --format job`: a run folder (run.json + the dataset it stored) becomes a
// cluster job whose dataset decodes back to the blocks Homecoder trains on (same ids, same
// masks), whose settings are the run's, and whose train.py compiles.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDataset, DEFAULT_DATASET } from '../../src/data/dataset/build.ts';
import { encodeDataset } from '../../src/data/dataset/codec.ts';
import { blockRange, usableBlocks } from '../../src/data/dataset/pack.ts';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import { memoryFiles } from '../../src/model/storage/files.ts';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';
import { DEFAULT_SETTINGS } from '../../src/train/settings.ts';
import { runCli } from '../helpers/cli.ts';
import { unzipSync } from 'fflate';
import { memorySink } from '../../src/model/export/sink.ts';
import { zipSinks } from '../../src/model/export/zip-sink.ts';
import { exportJobFromFiles } from '../../src/train/job-export.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hc-job-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('export --format job', () => {
  it('writes the dataset as JSONL that decodes to the trained blocks, the run settings, and a train.py that compiles', async () => {
    const { files } = makeTinyModel({ arch: 'qwen2' });
    const model = join(dir, 'model');
    mkdirSync(model, { recursive: true });
    for (const [n, b] of files) writeFileSync(join(model, n), b);
    const tok = await ModelTokenizer.load(memoryFiles('m', files));
    const texts = Array.from({ length: 12 }, (_, i) => ({
      path: `src/f${i}.py`,
      source: 'repo',
      text: `def f${i}(x):\n    return x * ${i} + ${i * 3}\n\nclass C${i}:\n    pass\n`.repeat(3),
      test: false,
    }));
    const dataset = await buildDataset(texts, tok, { ...DEFAULT_DATASET, seqLen: 64, seed: 7 });
    const settings = { ...DEFAULT_SETTINGS, seqLen: 64, seed: 7, loraR: 4, loraAlpha: 8, steps: 30, batchSize: 4 };
    const run = join(dir, 'run');
    mkdirSync(run, { recursive: true });
    writeFileSync(join(run, 'dataset.bin'), encodeDataset(dataset));
    writeFileSync(
      join(run, 'run.json'),
      JSON.stringify({ id: 'r1', model: { id: 'tiny', label: 'tiny' }, settings, steps: 30, dataset: dataset.stats }),
    );
    const out = join(dir, 'job');
    const r = runCli('export', '--model', model, '--run', run, '--format', 'job', '--out', out);
    expect(r.status, r.stderr).toBe(0);

    const rows = (name: string) =>
      readFileSync(join(out, 'dataset', name), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { input_ids: number[]; loss_mask: number[] });
    for (const [name, packed] of [
      ['train.jsonl', dataset.train],
      ['test.jsonl', dataset.test],
    ] as const) {
      const want = usableBlocks(packed).map((i) => {
        const [a, b] = blockRange(packed, i);
        return { input_ids: Array.from(packed.ids.subarray(a, b)), loss_mask: Array.from(packed.mask.subarray(a, b)) };
      });
      expect(want.length).toBeGreaterThan(0);
      expect(rows(name)).toEqual(want);
    }
    const job = JSON.parse(readFileSync(join(out, 'settings.json'), 'utf8'));
    expect(job.settings).toEqual(settings);
    expect(job.steps).toBe(30);
    expect(readFileSync(join(out, 'tokenizer', 'tokenizer.json'))).toEqual(Buffer.from(files.get('tokenizer.json')!));
    expect(readFileSync(join(out, 'requirements.txt'), 'utf8')).toMatch(/^peft==\d/m);
    expect(readFileSync(join(out, 'accelerate', 'deepspeed-zero3.yaml'), 'utf8')).toContain('zero_stage: 3');
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('accelerate launch');
    const compiled = spawnSync('python3', ['-m', 'py_compile', join(out, 'train.py')], { encoding: 'utf8' });
    expect(compiled.status, compiled.stderr).toBe(0);
  }, 120_000);

  it('without --run or --source, or with a folder that is not a run: a message that says what to give', () => {
    const noRun = runCli('export', '--model', dir, '--format', 'job', '--out', join(dir, 'x'));
    expect(noRun.status).toBe(1);
    expect(noRun.stderr).toContain(
      '--format job needs --source SRC, --chat or --pairs (with the settings of `homecoder train`) or --run DIR',
    );
    const notRun = runCli('export', '--model', dir, '--run', dir, '--format', 'job', '--out', join(dir, 'x'));
    expect(notRun.status).toBe(1);
    expect(notRun.stderr).toContain('No run.json in the run folder');
  }, 120_000);

  it('zipped as the Train page stores it, the job holds the same files, byte for byte', async () => {
    const { files } = makeTinyModel({ arch: 'qwen2' });
    const model = memoryFiles('tiny', files);
    const texts = Array.from({ length: 40 }, (_, i) => ({
      path: `src/g${i}.py`,
      source: 'repo',
      text: `def g${i}(a):\n    return [a + ${i}] * ${i % 7}\n`.repeat(20),
      test: i < 4,
    }));
    const req = { id: 'j', model: { id: 'tiny', label: 'tiny' }, files: texts, settings: { seqLen: 32, steps: 5, warmupSteps: 1 } };
    const plain = new Map<string, ReturnType<typeof memorySink>>();
    const names = await exportJobFromFiles(model, req, {
      baseName: 'tiny',
      open: async (n) => {
        plain.set(n, memorySink());
        return plain.get(n)!;
      },
    });
    const out = memorySink();
    const zip = zipSinks(out);
    const phases: string[] = [];
    expect(await exportJobFromFiles(model, req, { baseName: 'tiny', open: zip.open, onProgress: (p) => phases.push(p.phase) })).toEqual(
      names,
    );
    await zip.finish();
    const entries = unzipSync(out.bytes());
    expect(Object.keys(entries).sort()).toEqual([...names].sort());
    for (const n of names) expect(Buffer.compare(Buffer.from(entries[n]), Buffer.from(plain.get(n)!.bytes())), n).toBe(0);
    expect(new TextDecoder().decode(entries['dataset/train.jsonl']).split('\n').length).toBeGreaterThan(20);
    expect(phases).toContain('writing the job');
  });

  it('from sources needs only the config and tokenizer: no weights, no GPU', () => {
    const { files } = makeTinyModel({ arch: 'llama' });
    const model = join(dir, 'no-weights');
    mkdirSync(model, { recursive: true });
    for (const [n, b] of files) if (!n.endsWith('.safetensors')) writeFileSync(join(model, n), b);
    const repo = join(dir, 'src-repo');
    mkdirSync(repo, { recursive: true });
    for (let i = 0; i < 5; i++) writeFileSync(join(repo, `m${i}.py`), `def m${i}(x):\n    return x - ${i}\n`.repeat(8));
    const out = join(dir, 'job-no-weights');
    // Settings a 4 GiB budget could never hold: a job has no memory check.
    const r = runCli(
      'export',
      '--model',
      model,
      '--source',
      repo,
      '--seq-len',
      '64',
      '--gpu-memory',
      '0.0001',
      '--format',
      'job',
      '--out',
      out,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(join(out, 'dataset', 'train.jsonl'));
    const job = JSON.parse(readFileSync(join(out, 'settings.json'), 'utf8'));
    expect(job.settings.seqLen).toBe(64);
    expect(job.dataset.trainFiles + job.dataset.testFiles).toBe(5);
  }, 120_000);

  it('refuses what a job cannot honour, before reading any source', () => {
    const base = ['export', '--model', dir, '--out', join(dir, 'y')];
    const cases: Array<[string[], string]> = [
      [['--format', 'job', '--source', 'no-such-dir', '--loss-threshold', '3'], 'a job has no stage-2 loss filter'],
      [['--format', 'job', '--source', 'no-such-dir', '--run', dir], 'not both'],
      [['--format', 'job', '--run', dir, '--seq-len', '64'], 'drop the source and setting flags'],
      [['--format', 'job', '--source', 'no-such-dir', '--warmup', '9', '--steps', '3'], 'warmupSteps must be at most'],
      [['--format', 'gguf-f16', '--seq-len', '64'], '--seq-len: only with --format job'],
    ];
    for (const [args, msg] of cases) {
      const r = runCli(...base, ...args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr).toContain(msg);
    }
  }, 120_000);
});
