// Instruction tuning on a tiny instruct-style model (Qwen's chat template, seed 11), shared
// by the pairs tests: the model written to <dir>/model, the pairs to <dir>/pairs.jsonl, and
// `homecoder train --pairs` with the same LoRA and schedule flags into <dir>/run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCliAsync } from './cli.ts';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';

/** Syllables the "reverse this word" words are made of. */
export const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo'];

/** The tiny instruct model the pairs tests train (same seed each time, so it can be rebuilt). */
export const tinyInstructModel = () => makeTinyModel({ arch: 'qwen2', seed: 11, instruct: true });

/** Writes the model to <dir>/model and the {prompt, completion} lines to <dir>/pairs.jsonl. */
export function writePairsRun(dir: string, lines: string[]): void {
  mkdirSync(join(dir, 'model'));
  for (const [name, bytes] of tinyInstructModel().files) writeFileSync(join(dir, 'model', name), bytes);
  writeFileSync(join(dir, 'pairs.jsonl'), `${lines.join('\n')}\n`);
}

/** `homecoder train` on <dir>/pairs.jsonl into <dir>/run; evaluated every `evalEvery` steps. */
export function trainPairs(
  dir: string,
  o: { steps: number; seqLen: number; batchSize: number; evalEvery: number; testFraction: number },
): Promise<{ status: number; stdout: string; stderr: string }> {
  return runCliAsync(
    'train',
    '--model',
    join(dir, 'model'),
    '--pairs',
    join(dir, 'pairs.jsonl'),
    '--out',
    join(dir, 'run'),
    ...[
      '--steps',
      `${o.steps}`,
      '--seq-len',
      `${o.seqLen}`,
      '--batch-size',
      `${o.batchSize}`,
      '--lr',
      '0.01',
      '--lora-r',
      '8',
      '--lora-alpha',
      '16',
    ],
    ...[
      '--warmup',
      '2',
      '--eval-every',
      `${o.evalEvery}`,
      '--checkpoint-every',
      `${o.evalEvery}`,
      '--test-fraction',
      `${o.testFraction}`,
      '--seed',
      '3',
    ],
    '--no-loss-filter',
    '--no-eval',
  );
}
