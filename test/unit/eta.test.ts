// A run's ETA from its recent step times, its evaluations and checkpoints, and how durations read.
import { describe, expect, it } from 'vitest';
import { dueAfter, EtaClock, formatDuration, STEP_FORWARDS } from '../../src/train/eta.ts';

const shape = { evalEvery: 5, checkpointEvery: 20, batchSize: 8, testBlocks: 4 };

describe('ETA', () => {
  it('counts the steps left at the mean of the last ten, and the evaluations left at the last one', () => {
    const eta = new EtaClock();
    eta.step(1000); // a slow first step falls out of the window
    for (let i = 0; i < 10; i++) eta.step(100);
    eta.evaluation(500);
    // 11 of 20 done: 9 steps × 100 ms + evaluations at 15 and 20 × 500 ms.
    expect(eta.secondsLeft({ ...shape, step: 11, steps: 20 })).toBeCloseTo((9 * 100 + 2 * 500) / 1000, 9);
    expect(eta.secondsLeft({ ...shape, step: 20, steps: 20 })).toBe(0);
  });
  it('includes the evaluations at checkpoints and at the last step, and the checkpoints’ own time', () => {
    // Test loss every 4 or at a checkpoint (every 6), and at the last step 13: 4, 6, 8, 12, 13.
    expect(dueAfter(0, 13, 4, 6)).toBe(5);
    expect(dueAfter(8, 13, 4, 6)).toBe(2); // 12, 13
    expect(dueAfter(12, 12, 4, 6)).toBe(0);
    expect(dueAfter(0, 3, 20, 20)).toBe(1); // a 3-step run still evaluates and checkpoints at its end
    const eta = new EtaClock();
    eta.step(100);
    eta.evaluation(1000);
    eta.checkpoint(300);
    // 3 steps left, 2 evaluations (step 5, and the last step), 1 checkpoint (the last step).
    expect(eta.secondsLeft({ ...shape, step: 3, steps: 6 })).toBeCloseTo((3 * 100 + 2 * 1000 + 300) / 1000, 9);
  });
  it('before any step, estimates steps from a test block’s forward time; nothing timed: unknown', () => {
    const eta = new EtaClock();
    expect(eta.secondsLeft({ ...shape, step: 0, steps: 10 })).toBeUndefined();
    eta.block(50);
    // 10 steps × 3 forwards × 8 sequences × 50 ms + 2 evaluations (5, 10) × 4 blocks × 50 ms.
    expect(eta.secondsLeft({ ...shape, step: 0, steps: 10 })).toBeCloseTo((10 * STEP_FORWARDS * 8 * 50 + 2 * 4 * 50) / 1000, 9);
  });
  it('reads in hours, minutes or seconds', () => {
    expect(formatDuration(42.4)).toBe('42 s');
    expect(formatDuration(200)).toBe('3 min 20 s');
    expect(formatDuration(3900)).toBe('1 h 5 min');
  });
});

describe('ETA during the loss filter', () => {
  it('adds the training still to come, estimated from the forward time per token', async () => {
    const { estimateTrainingSeconds } = await import('../../src/train/pipeline.ts');
    const { DEFAULT_SETTINGS } = await import('../../src/train/settings.ts');
    const s = { ...DEFAULT_SETTINGS, steps: 10, batchSize: 2, seqLen: 100, evalEvery: 5, testFraction: 0.1 };
    // 40,000 characters ≈ 10,000 tokens: 10 test blocks; 10 steps × 3 forwards × 2 × 100 tokens, 3 test losses (0, 5, 10) × 10 blocks × 100 tokens.
    expect(estimateTrainingSeconds(s, 40_000, 1)).toBeCloseTo((10 * STEP_FORWARDS * 2 * 100 + 3 * 10 * 100) / 1000, 9);
    // Automatic steps (Refact's rule) when steps is 0: 90 train blocks → 50 epochs · 90 / 2 = 2250 steps.
    expect(estimateTrainingSeconds({ ...s, steps: 0 }, 40_000, 1)).toBeCloseTo((2250 * 600 + 451 * 1000) / 1000, 6);
  });
});
