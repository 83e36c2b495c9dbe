// The stage-2 filter's automatic threshold: Refact's 3.0 nats for a model that knows code, a
// threshold from the model's own losses for one far above that (the random demo model), off
// with too few files to tell; and the decision at a threshold.
import { describe, expect, it } from 'vitest';
import { chooseThreshold, decide, DEFAULT_LOSS_THRESHOLD } from '../../src/train/loss-filter.ts';

describe('loss filter threshold', () => {
  it("a code model (median at most 3 nats) gets Refact's 3.0, and says so", () => {
    const c = chooseThreshold([0.8, 1.2, 1.5, 2.1, 4.4]);
    expect(c.threshold).toBe(DEFAULT_LOSS_THRESHOLD);
    expect(c.median).toBe(1.5);
    expect(c.why).toMatch(/Threshold 3 nats \(Refact's, for code models\): this model's median loss on your files is 1\.50 nats/);
  });
  it('a model far above 3 nats (random demo model ~7.5) gets the upper fence of its own losses: only outliers go', () => {
    const losses = [7.48, 7.5, 7.51, 7.52, 7.53, 7.55, 7.56, 9.9];
    const c = chooseThreshold(losses);
    // Q1 7.5075, Q3 7.5525: Tukey's fence 7.5525 + 1.5 · 0.045 = 7.62, under median 7.525 + 1 nat.
    expect(c.threshold).toBeCloseTo(8.525, 3);
    // A wide spread: the fence is above median + 1.
    expect(chooseThreshold([4, 5, 6, 7, 8, 9]).threshold).toBeCloseTo(7.75 + 1.5 * 2.5, 3);
    expect(c.why).toMatch(/from this model's own losses .* median loss 7\.5\d nats is far above Refact's 3/);
    const d = decide(
      losses.map((loss, i) => ({ path: `f${i}.py`, source: 's', loss, tokens: 10, cached: false })),
      c.threshold,
    );
    expect(d.filter((x) => !x.accepted).map((x) => [x.path, x.reason])).toEqual([['f7.py', 'high loss']]);
  });
  it('with fewer than 4 files far above 3 nats the filter is off, and says why; no losses at all: off', () => {
    const c = chooseThreshold([7.5, 7.6, 7.7]);
    expect(c.threshold).toBeNull();
    expect(c.why).toMatch(/Loss filter off: .* 3 files are too few/);
    expect(chooseThreshold([]).threshold).toBeNull();
    const d = decide(
      [
        { path: 'a', source: 's', loss: 9, tokens: 5, cached: true },
        { path: 'b', source: 's', loss: null, tokens: 1, cached: false },
      ],
      null,
    );
    expect(d.map((x) => [x.accepted, x.reason])).toEqual([
      [true, undefined],
      [false, 'no tokens'],
    ]);
  });
});
