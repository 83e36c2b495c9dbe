// Bad input that only shows once the engine runs (issue 11), as a user meets it (real
// processes, folders on disk, Dawn): a model whose finite weights make the loss NaN stops
// training with an error naming the step, an rsLoRA adapter scales as the reference says,
// and a resumed run keeps its --no-eval.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import { readSafetensorsHeader } from '../../src/model/safetensors.ts';
import { bytesSource } from '../../src/model/storage/files.ts';
import { floatToBf16 } from '../../src/model/dtype.ts';
import type { RunRecord } from '../../src/train/run-record.ts';
import { gpuSkipReason, skipNote, testDevice } from '../helpers/gpu.ts';
import { memoryFiles } from '../../src/model/storage/files.ts';
import { openRunModel } from '../../src/train/run-model.ts';
import { buildDataset } from '../../src/data/dataset/build.ts';
import { createRun, readRun, trainRun } from '../../src/train/run.ts';
import { memoryRunFolder } from '../../src/train/run-folder.ts';
import { listCheckpoints, readCheckpointAdapter } from '../../src/train/checkpoint.ts';
import { validateSettings } from '../../src/train/settings.ts';
import { TrainingError } from '../../src/train/errors.ts';
import { randomAdapter, refLora } from '../helpers/tiny.ts';
import { nodeFiles } from '../../src/model/storage/node-files.ts';
import { hostTensorToFloat64, openModel } from '../../src/model/loader.ts';
import { refForward, refWeightsFromTensors } from '../../src/gpu/reference/transformer.ts';
import { writePeftAdapter } from '../../src/model/peft.ts';
import { LORA_TARGETS } from '../../src/model/types.ts';
import { tinyRepo } from '../helpers/tiny-repo.ts';

const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/homecoder.mjs', ...args], { encoding: 'utf8', timeout: 180_000 });

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hc-bad-gpu-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function rejection(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(Error);
  return e as Error;
}

function writeModel(name: string, files: Map<string, Uint8Array>): string {
  const d = join(dir, name);
  mkdirSync(d);
  for (const [n, b] of files) writeFileSync(join(d, n), b);
  return d;
}

describe.skipIf(!!gpuSkipReason)(`bad input on the engine${skipNote}`, { timeout: 300_000 }, () => {
  it('train-steps: a loss that becomes NaN stops the run with an error naming the step; no adapter is written', async () => {
    const m = makeTinyModel({ arch: 'qwen2', layers: 2, hidden: 32, heads: 4, kvHeads: 2, intermediate: 64, seed: 4 });
    // Finite weights (they pass the load check) whose attention scores overflow f32: NaN.
    const bytes = m.files.get('model.safetensors')!;
    const info = (await readSafetensorsHeader(bytesSource('model.safetensors', bytes))).tensors.get(
      'model.layers.0.input_layernorm.weight',
    )!;
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    for (let i = 0; i < info.byteLength; i += 2) dv.setUint16(info.offset + i, floatToBf16(1e30), true);
    const model = writeModel('overflow', m.files);
    writeFileSync(join(dir, 'text.py'), tinyRepo(2)[0].text);
    const out = join(dir, 'nan-adapter');
    const r = cli('train-steps', '--model', model, '--text', join(dir, 'text.py'), '--steps', '3', '--seq-len', '32', '--out', out);
    expect(r.status, r.stdout).toBe(1);
    expect(r.stderr).toMatch(/The loss became (NaN|Infinity|-Infinity) at step 1: training stopped there/);
    expect(existsSync(join(out, 'adapter_model.safetensors'))).toBe(false);
  });

  it('a training run whose loss becomes NaN stops there, naming the step; the last good checkpoint stays the best', async () => {
    const { device } = await testDevice();
    const m = makeTinyModel({ arch: 'qwen2', layers: 2, hidden: 32, heads: 4, kvHeads: 2, intermediate: 64, seed: 4 });
    const engine = await openRunModel(device, memoryFiles('tiny', m.files));
    try {
      const settings = validateSettings({
        seqLen: 32,
        batchSize: 1,
        steps: 8,
        evalEvery: 2,
        checkpointEvery: 2,
        warmupSteps: 0,
        loraR: 4,
        seed: 3,
      });
      const dataset = await buildDataset(tinyRepo(6), engine.tokenizer, {
        seqLen: settings.seqLen,
        seed: settings.seed,
        fim: { fimRate: 0.5, spmRate: 0.5, lineSplitRate: 0.9 },
        testFraction: 0.2,
      });
      const run = memoryRunFolder();
      await createRun(run, { id: 'nan', model: { id: 'tiny', label: 'tiny' }, settings, dataset, engine });
      // After step 4 (a checkpoint with a test loss), the final norm's weights become NaN, as a
      // diverging run's would: step 5's loss is NaN.
      const e = await rejection(
        trainRun(engine, run, {
          onUpdate: (_r, live) => {
            if (live.step === 4) device.queue.writeBuffer(engine.model.finalNorm, 0, new Float32Array(32).fill(Number.NaN));
          },
        }),
      );
      expect(e).toBeInstanceOf(TrainingError);
      expect(e.message).toMatch(/The loss became NaN at step 5: training stopped there/);
      const record = (await readRun(run))!;
      expect(record.status).toBe('failed');
      expect(record.error).toContain('step 5');
      expect(record.log.map((l) => l.step)).toEqual([1, 2, 3, 4]);
      expect(record.checkpoints.map((c) => c.step)).toEqual([2, 4]);
      expect(record.best === 2 || record.best === 4).toBe(true);
      expect(await listCheckpoints(run)).toEqual([2, 4]);
      const best = await readCheckpointAdapter(run, record.best!, engine.model.config);
      expect(best.layers[0].q_proj!.B.every(Number.isFinite)).toBe(true);
    } finally {
      engine.close();
    }
  });

  it('use_rslora: the adapter scales by alpha/√r, as the float64 reference says', async () => {
    const model = writeModel(
      'rs',
      makeTinyModel({ arch: 'llama', layers: 2, hidden: 32, heads: 4, kvHeads: 2, intermediate: 48, seed: 6 }).files,
    );
    const opened = await openModel(nodeFiles(model));
    const tensors = new Map<string, Float64Array>();
    for (const n of opened.tensorNames) tensors.set(n, hostTensorToFloat64(await opened.tensor(n)));
    const ref = refWeightsFromTensors(opened.config, (n) => tensors.get(n)!);
    const host = randomAdapter(opened.config, 4, [...LORA_TARGETS], 9, 0.3);
    const files = writePeftAdapter({ lora: { r: 4, alpha: 8, dropout: 0, targets: [...LORA_TARGETS] }, baseModel: 'rs', layers: host });
    const cfg = JSON.parse(new TextDecoder().decode(files.get('adapter_config.json')!)) as Record<string, unknown>;
    files.set('adapter_config.json', new TextEncoder().encode(JSON.stringify({ ...cfg, use_rslora: true })));
    const adapter = writeModel('rs-adapter', files);
    writeFileSync(join(dir, 'rs.py'), 'def add(a, b):\n    return a + b\n');
    const r = cli('loss', '--model', model, '--text', join(dir, 'rs.py'), '--adapter', adapter, '--json');
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as { loss: number; ids: number[] };
    const rs = refForward(ref, { ...refLora(host, 4, 8), scale: 8 / Math.sqrt(4) }, got.ids).loss;
    const plain = refForward(ref, refLora(host, 4, 8), got.ids).loss;
    expect(Math.abs(rs - plain)).toBeGreaterThan(0.01); // the two scales give different models
    expect(Math.abs(got.loss - rs) / rs).toBeLessThan(1e-4);
  });

  it('train --resume keeps the --no-eval the run was started with', () => {
    const model = writeModel(
      'good',
      makeTinyModel({ arch: 'qwen2', layers: 2, hidden: 32, heads: 4, kvHeads: 2, intermediate: 64, seed: 4 }).files,
    );
    const repo = join(dir, 'repo');
    mkdirSync(join(repo, 'src'), { recursive: true });
    for (const f of tinyRepo(6)) writeFileSync(join(repo, f.path), f.text);
    const out = join(dir, 'run');
    const settings = [
      '--steps',
      '2',
      '--seq-len',
      '32',
      '--batch-size',
      '1',
      '--warmup',
      '0',
      '--eval-every',
      '2',
      '--checkpoint-every',
      '2',
    ];
    const first = cli('train', '--model', model, '--source', repo, '--out', out, '--no-loss-filter', '--no-eval', ...settings);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).not.toContain('evaluation on');
    expect((JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as RunRecord).evaluate).toBe(false);
    // Resuming (here: a finished run) without repeating --no-eval still skips the evaluation.
    const again = cli('train', '--model', model, '--out', out, '--resume');
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).not.toContain('evaluation on');
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as RunRecord;
    expect(run.status).toBe('done');
    expect(run.evaluation).toBeUndefined();
  });
});
