// A run's ETA from its recent step times and its last evaluation, and how durations read.
import { describe, expect, it } from 'vitest';
import { EtaClock, formatDuration } from '../../src/train/eta.ts';

describe('ETA', () => {
  it('counts the steps left at the mean of the last ten, and the evaluations left at the last one', () => {
    const eta = new EtaClock();
    eta.step(1000); // a slow first step falls out of the window
    for (let i = 0; i < 10; i++) eta.step(100);
    eta.evaluation(500);
    // 11 of 20 done: 9 steps × 100 ms + evaluations at 15 and 20 × 500 ms.
    expect(eta.secondsLeft(11, 20, 5)).toBeCloseTo((9 * 100 + 2 * 500) / 1000, 9);
    expect(eta.secondsLeft(20, 20, 5)).toBe(0);
  });
  it('reads in hours, minutes or seconds', () => {
    expect(formatDuration(42.4)).toBe('42 s');
    expect(formatDuration(200)).toBe('3 min 20 s');
    expect(formatDuration(3900)).toBe('1 h 5 min');
  });
});
