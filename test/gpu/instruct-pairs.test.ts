// Instruction tuning on real WebGPU: `homecoder train` on prompt/completion pairs alone ("reverse
// this word") with an instruct-style tiny model (Qwen's chat template). Pairs are held out for
// test loss, and their loss is measured on the completions only (the mask), so the run's test
// loss before and after training is the held-out completions' loss; training lowers it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliAsync } from '../helpers/cli.ts';
import { gpuSkipReason, skipNote } from '../helpers/gpu.ts';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import type { RunRecord } from '../../src/train/run-record.ts';

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo'];

describe.skipIf(!!gpuSkipReason)(`instruction tuning on pairs${skipNote}`, () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hc-instruct-'));
    const model = makeTinyModel({ arch: 'qwen2', seed: 11, instruct: true });
    mkdirSync(join(dir, 'model'));
    for (const [name, bytes] of model.files) writeFileSync(join(dir, 'model', name), bytes);
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) {
      const word = SYLLABLES[i % 8] + SYLLABLES[(i * 3 + 1) % 8] + SYLLABLES[(i * 5 + 2) % 8];
      lines.push(JSON.stringify({ prompt: `Reverse: ${word}`, completion: [...word].reverse().join('') }));
    }
    writeFileSync(join(dir, 'pairs.jsonl'), `${lines.join('\n')}\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a pairs-only run lowers the held-out completions’ loss', async () => {
    const r = await runCliAsync(
      'train',
      '--model',
      join(dir, 'model'),
      '--pairs',
      join(dir, 'pairs.jsonl'),
      '--out',
      join(dir, 'run'),
      ...['--steps', '30', '--seq-len', '256', '--batch-size', '2', '--lr', '0.01', '--lora-r', '8', '--lora-alpha', '16'],
      ...['--warmup', '2', '--eval-every', '10', '--checkpoint-every', '10', '--test-fraction', '0.2', '--seed', '3'],
      '--no-loss-filter',
      '--no-eval',
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/0 conversations and 40 pairs \(8 held out\)/);
    const record = JSON.parse(readFileSync(join(dir, 'run', 'run.json'), 'utf8')) as RunRecord;
    expect(record.dataset).toMatchObject({ trainFiles: 0, testFiles: 0, pairs: 40, testExamples: 8 });
    const before = record.evals.find((e) => e.step === 0)!.testLoss;
    const after = record.evals.at(-1)!.testLoss;
    console.log(`held-out completion loss: before ${before.toFixed(4)}, after ${after.toFixed(4)} (step ${record.evals.at(-1)!.step})`);
    expect(record.evals.at(-1)!.step).toBe(30);
    expect(after).toBeLessThan(before - 1);
  });
});
