// A pairs-tuned adapter as a callable function, through the real parts: `homecoder train --pairs`
// on a tiny instruct-style model (Qwen's chat template) on "reverse this word"; then `homecoder
// serve --named-adapter tuned=<run dir>` answers held-out words (never in training) through
// /v1/chat/completions with the real `openai` client, greedy. Metric: the mean normalized edit
// distance of the answer to the reversed word (0 = exact, 1 = nothing in common). The tuned
// answers must beat the base's by a margin; the same adapter with its B matrices zeroed (weight
// 0), served beside it, must answer exactly as the base, so the margin is the trained weights'.
// What a random-weight tiny model learns in 60 steps is the answer's form (reversed syllables,
// the length, stopping), not yet the reversal itself: exact matches are reported, not required.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { gpuSkipReason, skipNote } from '../helpers/gpu.ts';
import { SYLLABLES, tinyInstructModel, trainPairs, writePairsRun } from '../helpers/instruct.ts';
import { startServe, type RunningServe } from '../helpers/serve.ts';
import { readPeftAdapter, writePeftAdapter } from '../../src/model/peft.ts';
import { nodeFiles } from '../../src/model/storage/node-files.ts';

const HELD_OUT = 8;
/** How much closer (mean normalized edit distance) the tuned answers must be than the base's. */
const MARGIN = 0.15;

/** Every two-syllable word (64), in an order fixed by a seeded shuffle. */
function words(seed: number): string[] {
  const all = SYLLABLES.flatMap((a) => SYLLABLES.map((b) => a + b));
  let s = seed;
  for (let i = all.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all;
}

const reverse = (w: string) => [...w].reverse().join('');

/** Levenshtein distance over characters. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** 0 = the target exactly, 1 = nothing in common (normalized by the longer of the two). */
const distance = (answer: string, target: string) => editDistance(answer, target) / Math.max(answer.length, target.length, 1);

describe.skipIf(!!gpuSkipReason)(`a pairs-tuned adapter served as a function${skipNote}`, () => {
  let dir: string;
  let serve: RunningServe | undefined;
  let heldOut: string[];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hc-instruct-serve-'));
    const all = words(5);
    heldOut = all.slice(0, HELD_OUT);
    const lines = all.slice(HELD_OUT).map((w) => JSON.stringify({ prompt: `Reverse: ${w}`, completion: reverse(w) }));
    writePairsRun(dir, lines);
  });
  afterAll(async () => {
    await serve?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers held-out words through /v1/chat/completions closer to the target than the base', async () => {
    const r = await trainPairs(dir, { steps: 60, seqLen: 128, batchSize: 4, evalEvery: 60, testFraction: 0.05 });
    expect(r.status, r.stderr).toBe(0);

    // The control: the trained adapter at weight 0 (its B matrices zeroed).
    const peft = await readPeftAdapter(nodeFiles(join(dir, 'run')), tinyInstructModel().config);
    const zeroed = peft.layers.map((layer) =>
      Object.fromEntries(Object.entries(layer).map(([t, w]) => [t, { ...w, B: new Float32Array(w.B.length) }])),
    );
    mkdirSync(join(dir, 'zero'));
    for (const [n, b] of writePeftAdapter({ ...peft, layers: zeroed })) writeFileSync(join(dir, 'zero', n), b);

    serve = await startServe([
      ...['--model', join(dir, 'model'), '--context', '256'],
      ...['--named-adapter', `tuned=${join(dir, 'run')}`, '--named-adapter', `zero=${join(dir, 'zero')}`],
    ]);
    const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const score = async (model: string) => {
      let sum = 0;
      let exact = 0;
      const answers: string[] = [];
      for (const w of heldOut) {
        const a = await client.chat.completions.create({
          model,
          messages: [{ role: 'user', content: `Reverse: ${w}` }],
          max_tokens: 10,
          temperature: 0,
          seed: 1,
        });
        const text = (a.choices[0].message.content ?? '').trim();
        answers.push(text);
        sum += distance(text, reverse(w));
        if (text === reverse(w)) exact++;
      }
      return { mean: sum / heldOut.length, exact, answers };
    };
    const base = await score('homecoder');
    const tuned = await score('homecoder:tuned');
    const zero = await score('homecoder:zero');
    const show = (s: typeof base) => `mean distance ${s.mean.toFixed(3)}, exact ${s.exact}/${HELD_OUT}: ${JSON.stringify(s.answers)}`;
    console.log(`targets ${JSON.stringify(heldOut.map(reverse))}\nbase:  ${show(base)}\ntuned: ${show(tuned)}\nzero:  ${show(zero)}`);
    expect(zero.answers).toEqual(base.answers);
    expect(tuned.mean).toBeLessThan(base.mean - MARGIN);
    expect(tuned.exact).toBeGreaterThanOrEqual(base.exact);
  }, 240_000);
});
