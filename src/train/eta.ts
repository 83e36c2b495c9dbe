// How long a run has left, from what its steps, test-loss evaluations and checkpoints took
// so far, and how a duration reads (the Train page and `homecoder train` show the same words).
// Before the first step is measured, a step is estimated from the forward time of a test
// block (forward + backward ≈ 3 forwards, batch size sequences per step).

/** Steps whose mean time predicts the rest (recent ones: the first steps warm up the GPU). */
const RECENT_STEPS = 10;
/** A training step (forward, backward, optimizer) costs about this many forward passes. */
export const STEP_FORWARDS = 3;

/** What is left of a run after `step`: its length and where evaluations and checkpoints fall. */
export interface RunShape {
  step: number;
  steps: number;
  evalEvery: number;
  checkpointEvery: number;
  batchSize: number;
  /** Test blocks measured per evaluation. */
  testBlocks: number;
}

/** Multiples of a or b in (from, to], plus `to` itself when it is neither (the last step always has both). */
export function dueAfter(from: number, to: number, a: number, b: number): number {
  const m = (k: number) => Math.floor(to / k) - Math.floor(from / k);
  const g = (x: number, y: number): number => (y ? g(y, x % y) : x);
  const lcm = (a / g(a, b)) * b;
  const n = m(a) + m(b) - m(lcm);
  const lastCounted = to % a === 0 || to % b === 0;
  return from < to && !lastCounted ? n + 1 : n;
}

export class EtaClock {
  private recentMs: number[] = [];
  private evalMs: number | undefined;
  private checkpointMs = 0;
  private blockMs: number | undefined;

  step(ms: number): void {
    this.recentMs.push(ms);
    if (this.recentMs.length > RECENT_STEPS) this.recentMs.shift();
  }

  evaluation(ms: number): void {
    this.evalMs = ms;
  }

  checkpoint(ms: number): void {
    this.checkpointMs = ms;
  }

  /** One test block's forward pass (measured during the first test loss, before any step). */
  block(ms: number): void {
    this.blockMs = ms;
  }

  /** Mean step time: measured, or estimated from a forward pass; undefined before either. */
  stepMs(batchSize: number): number | undefined {
    if (this.recentMs.length) return this.recentMs.reduce((a, b) => a + b, 0) / this.recentMs.length;
    return this.blockMs === undefined ? undefined : STEP_FORWARDS * batchSize * this.blockMs;
  }

  /**
   * Seconds left after `r.step`: the steps, the test-loss evaluations (every evalEvery steps,
   * at every checkpoint and at the last step) and the checkpoints still due. Undefined until
   * something has been timed.
   */
  secondsLeft(r: RunShape): number | undefined {
    const stepMs = this.stepMs(r.batchSize);
    if (stepMs === undefined) return undefined;
    const evalMs = this.evalMs ?? (this.blockMs ?? 0) * r.testBlocks;
    const evals = dueAfter(r.step, r.steps, r.evalEvery, r.checkpointEvery);
    const checkpoints = dueAfter(r.step, r.steps, r.checkpointEvery, r.checkpointEvery);
    return ((r.steps - r.step) * stepMs + evals * evalMs + checkpoints * this.checkpointMs) / 1000;
  }
}

/** "1 h 5 min", "3 min 20 s", "42 s". */
export function formatDuration(s: number): string {
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.round(s)} s`;
}
