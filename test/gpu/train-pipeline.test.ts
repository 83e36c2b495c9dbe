// The pieces around the run loop on real WebGPU: greedy decoding and the stage-2 loss
// filter checked against the float64 reference, and `homecoder train` end to end as a
// user runs it (real process, folder on disk): filter, dataset, training, evaluation,
// best adapter and run.json written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.ts';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpuSkipReason, skipNote, testDevice } from '../helpers/gpu.ts';
import { tinyRepo } from '../helpers/tiny-repo.ts';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import { memoryFiles } from '../../src/model/storage/files.ts';
import { openModel, hostTensorToFloat64 } from '../../src/model/loader.ts';
import { refForward, refWeightsFromTensors, type RefWeights } from '../../src/gpu/reference/transformer.ts';
import { openRunModel, type OpenedRunModel } from '../../src/train/run-model.ts';
import { GreedyDecoder } from '../../src/train/greedy.ts';
import { lossFilter, folderLossCache } from '../../src/train/loss-filter.ts';
import { memoryRunFolder } from '../../src/train/run-folder.ts';
import { heldOutLine } from '../../src/train/evaluate.ts';
import type { RunRecord } from '../../src/train/run-record.ts';

const model = makeTinyModel({ arch: 'qwen2', layers: 2, hidden: 64, heads: 4, kvHeads: 2, intermediate: 128, seed: 3 });

describe.skipIf(!!gpuSkipReason)(`training pipeline${skipNote}`, () => {
  let engine: OpenedRunModel;
  let ref: RefWeights;
  let dir: string;
  let cliArgs: string[] = [];
  let cliFinal = NaN;
  beforeAll(async () => {
    const { device } = await testDevice();
    engine = await openRunModel(device, memoryFiles('tiny', model.files));
    const m = await openModel(memoryFiles('tiny', model.files));
    const tensors = new Map<string, Float64Array>();
    for (const n of m.tensorNames) tensors.set(n, hostTensorToFloat64(await m.tensor(n)));
    ref = refWeightsFromTensors(m.config, (n) => tensors.get(n)!);
    dir = mkdtempSync(join(tmpdir(), 'hc-train-'));
  });
  afterAll(() => {
    engine?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('greedy decoding picks the float64 reference argmax at every step', async () => {
    const prompt = engine.tokenizer.encode('def add(a, b):\n    return');
    const dec = new GreedyDecoder(engine, undefined, prompt.length + 6);
    const got = await dec.generate(prompt, { maxNewTokens: 6 });
    dec.destroy();
    const want: number[] = [];
    const ids = [...prompt];
    const V = ref.config.vocabSize;
    for (let k = 0; k < 6; k++) {
      const logits = refForward(ref, undefined, ids, undefined, { logits: true }).logits!;
      const row = logits.subarray((ids.length - 1) * V, ids.length * V);
      let best = 0;
      for (let v = 1; v < V; v++) if (row[v] > row[best]) best = v;
      const sorted = [...row].sort((a, b) => b - a);
      expect(sorted[0] - sorted[1]).toBeGreaterThan(1e-4); // no near-tie that f32 could flip
      want.push(best);
      ids.push(best);
    }
    expect(got).toEqual(want);
  });

  it('the loss filter measures each file as the reference does, rejects above the threshold, and caches', async () => {
    const files = tinyRepo(4);
    files[1] = { ...files[1], text: 'zq#@!~ 0x7f }{ ][ %% ^^ 9;9;9 ``` \\\\ qqq' };
    const folder = memoryRunFolder();
    const cache = await folderLossCache(folder);
    const first = await lossFilter(engine, engine.tokenizer, files, { modelId: 'tiny', seqLen: 256, threshold: 100, cache });
    for (const [i, d] of first.entries()) {
      const ids = [...engine.tokenizer.encode(files[i].text), engine.tokenizer.eos!];
      const want = refForward(ref, undefined, ids).loss;
      // f32 on the GPU vs float64: 1e-4 relative.
      expect(Math.abs(d.loss! - want) / want).toBeLessThan(1e-4);
      expect(d.cached).toBe(false);
      expect(d.tokens).toBe(ids.length);
    }
    const threshold = [...first.map((d) => d.loss!)].sort((a, b) => a - b)[1] + 1e-6;
    const second = await lossFilter(engine, engine.tokenizer, files, {
      modelId: 'tiny',
      seqLen: 256,
      threshold,
      cache: await folderLossCache(folder),
    });
    expect(second.every((d) => d.cached)).toBe(true);
    expect(second.map((d) => d.tokens)).toEqual(first.map((d) => d.tokens));
    expect(second.filter((d) => d.accepted).length).toBe(2);
    for (const d of second.filter((x) => !x.accepted)) expect(d.reason).toBe('high loss');
  });

  it('picks a held-out line deterministically, never a blank one', () => {
    const text = 'a = 1\n\nb = 2\nc = 3\n';
    const h = heldOutLine('x.py', text, 1)!;
    expect(`${h.prefix + h.line}\n${h.suffix}`).toBe(text);
    expect(h.line.trim().length).toBeGreaterThan(0);
    expect(heldOutLine('x.py', text, 1)).toEqual(h);
  });

  it('homecoder train: filter, dataset, training, evaluation; writes the best adapter and run.json', () => {
    const modelDir = join(dir, 'model');
    mkdirSync(modelDir);
    for (const [n, b] of model.files) writeFileSync(join(modelDir, n), b);
    const repo = join(dir, 'repo');
    for (const f of tinyRepo(8)) {
      mkdirSync(join(repo, 'src'), { recursive: true });
      writeFileSync(join(repo, f.path), f.text);
    }
    mkdirSync(join(repo, '.git'));
    writeFileSync(join(repo, '.git', 'HEAD'), 'ref: refs/heads/main\n'); // dot-folders are skipped
    const out = join(dir, 'out');
    const args = [
      '--model',
      modelDir,
      '--source',
      repo,
      '--out',
      out,
      '--steps',
      '8',
      '--seq-len',
      '48',
      '--batch-size',
      '2',
      '--lr',
      '3e-3',
      '--warmup',
      '1',
      '--eval-every',
      '4',
      '--checkpoint-every',
      '4',
      '--lora-r',
      '4',
      '--loss-threshold',
      '20',
      '--test-files',
      'src/{eta,theta}.py',
      '--json',
    ];
    const r = runCli('train', ...args);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.step).map((l) => l.step.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(lines.find((l) => l.dataset).dataset).toMatchObject({ trainFiles: 6, testFiles: 2, split: 'marked' });
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as RunRecord;
    expect(run.status).toBe('done');
    expect(run.log).toHaveLength(8);
    expect(run.checkpoints.map((c) => c.step)).toEqual([4, 8]);
    expect(run.evals.at(-1)!.testLoss).toBeLessThan(run.evals[0].testLoss);
    expect(run.evaluation!.files).toBe(2);
    expect(run.evaluation!.base.testLoss).toBeCloseTo(run.evals[0].testLoss, 4);
    expect(run.evaluation!.tuned.testLoss).toBeCloseTo(run.checkpoints.find((c) => c.step === run.best)!.testLoss!, 4);
    expect(existsSync(join(out, 'adapter_model.safetensors')) && existsSync(join(out, 'adapter_config.json'))).toBe(true);
    // A second train into the same folder is refused with what to do.
    const again = runCli('train', ...args);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/already holds a run.*--resume/);
    cliArgs = args;
    cliFinal = run.log.at(-1)!.loss;
  });

  it('homecoder train: Ctrl-C stops after the current step, --resume ends with the same loss', async () => {
    const out = join(dir, 'out-interrupted');
    const args = cliArgs.map((a, i) => (cliArgs[i - 1] === '--out' ? out : a));
    const child = spawnCli('train', ...args);
    let stdout = '';
    let signalledAt = 0;
    child.stdout!.on('data', (d) => {
      stdout += d;
      const m = [...stdout.matchAll(/"step":\{"step":(\d+)/g)].at(-1);
      if (m && Number(m[1]) >= 3 && !signalledAt) {
        signalledAt = Number(m[1]);
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((ok) => child.on('exit', ok));
    expect(code).toBe(130);
    const stopped = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((l) => l.stopped).stopped;
    expect(stopped.step).toBeGreaterThanOrEqual(signalledAt);
    expect(stopped.step).toBeLessThanOrEqual(signalledAt + 1); // within one step
    const r = runCli('train', '--model', args[args.indexOf('--model') + 1], '--out', out, '--resume', '--json');
    expect(r.status, r.stderr).toBe(0);
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as RunRecord;
    expect(run.status).toBe('done');
    expect(run.log.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Math.abs(run.log.at(-1)!.loss - cliFinal)).toBeLessThan(1e-4);
  });
});
