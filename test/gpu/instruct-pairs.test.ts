// Instruction tuning on real WebGPU: `homecoder train` on prompt/completion pairs alone ("reverse
// this word") with an instruct-style tiny model (Qwen's chat template). Pairs are held out for
// test loss, and their loss is measured on the completions only (the mask), so the run's test
// loss before and after training is the held-out completions' loss; training lowers it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpuSkipReason, skipNote } from '../helpers/gpu.ts';
import { SYLLABLES, trainPairs, writePairsRun } from '../helpers/instruct.ts';
import type { RunRecord } from '../../src/train/run-record.ts';

describe.skipIf(!!gpuSkipReason)(`instruction tuning on pairs${skipNote}`, () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hc-instruct-'));
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) {
      const word = SYLLABLES[i % 8] + SYLLABLES[(i * 3 + 1) % 8] + SYLLABLES[(i * 5 + 2) % 8];
      lines.push(JSON.stringify({ prompt: `Reverse: ${word}`, completion: [...word].reverse().join('') }));
    }
    writePairsRun(dir, lines);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a pairs-only run lowers the held-out completions’ loss', async () => {
    const r = await trainPairs(dir, { steps: 30, seqLen: 256, batchSize: 2, evalEvery: 10, testFraction: 0.2 });
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
